package thrift

// Method is a FunServant method by id, so that a server can count, route or
// refuse calls without comparing names.
type Method uint8

// The methods of FunServant, in the IDL's order.
const (
	MethodUnknown Method = iota
	MethodPing
	MethodNoop
	MethodIDNext
	MethodIDNextWithTag
	MethodIDDecode
	MethodLcSet
	MethodLcGet
	MethodLcDel
	MethodMcSet
	MethodMcAdd
	MethodMcGet
	MethodMcDelete
	MethodMcIncrement
	MethodLock
	MethodUnlock
	MethodDlog
	MethodKvdbSet
	MethodKvdbGet
	MethodKvdbDel
	MethodMgFindOne
	MethodMgFindAll
	MethodMgFindID
	MethodMgCount
	MethodMgUpdate
	MethodMgUpsert
	MethodMgInsert
	MethodMgInserts
	MethodMgDelete
	MethodMgFindAndModify
	MethodMgTransaction
	// NumMethods is one more than the largest Method, to size tables
	// indexed by Method.
	NumMethods
)

// methodNames maps Method to its name in the IDL; MethodOf is its inverse.
var methodNames = [NumMethods]string{
	MethodUnknown:         "",
	MethodPing:            "ping",
	MethodNoop:            "noop",
	MethodIDNext:          "id_next",
	MethodIDNextWithTag:   "id_next_with_tag",
	MethodIDDecode:        "id_decode",
	MethodLcSet:           "lc_set",
	MethodLcGet:           "lc_get",
	MethodLcDel:           "lc_del",
	MethodMcSet:           "mc_set",
	MethodMcAdd:           "mc_add",
	MethodMcGet:           "mc_get",
	MethodMcDelete:        "mc_delete",
	MethodMcIncrement:     "mc_increment",
	MethodLock:            "lock",
	MethodUnlock:          "unlock",
	MethodDlog:            "dlog",
	MethodKvdbSet:         "kvdb_set",
	MethodKvdbGet:         "kvdb_get",
	MethodKvdbDel:         "kvdb_del",
	MethodMgFindOne:       "mg_find_one",
	MethodMgFindAll:       "mg_find_all",
	MethodMgFindID:        "mg_find_id",
	MethodMgCount:         "mg_count",
	MethodMgUpdate:        "mg_update",
	MethodMgUpsert:        "mg_upsert",
	MethodMgInsert:        "mg_insert",
	MethodMgInserts:       "mg_inserts",
	MethodMgDelete:        "mg_delete",
	MethodMgFindAndModify: "mg_find_and_modify",
	MethodMgTransaction:   "mg_transaction",
}

// String returns the method's name in the IDL, "" for MethodUnknown.
func (m Method) String() string {
	if m >= NumMethods {
		return ""
	}
	return methodNames[m]
}

// MethodOf returns the Method named name, MethodUnknown when there is none.
// It does not allocate.
func MethodOf(name []byte) Method {
	switch string(name) {
	case "ping":
		return MethodPing
	case "noop":
		return MethodNoop
	case "id_next":
		return MethodIDNext
	case "id_next_with_tag":
		return MethodIDNextWithTag
	case "id_decode":
		return MethodIDDecode
	case "lc_set":
		return MethodLcSet
	case "lc_get":
		return MethodLcGet
	case "lc_del":
		return MethodLcDel
	case "mc_set":
		return MethodMcSet
	case "mc_add":
		return MethodMcAdd
	case "mc_get":
		return MethodMcGet
	case "mc_delete":
		return MethodMcDelete
	case "mc_increment":
		return MethodMcIncrement
	case "lock":
		return MethodLock
	case "unlock":
		return MethodUnlock
	case "dlog":
		return MethodDlog
	case "kvdb_set":
		return MethodKvdbSet
	case "kvdb_get":
		return MethodKvdbGet
	case "kvdb_del":
		return MethodKvdbDel
	case "mg_find_one":
		return MethodMgFindOne
	case "mg_find_all":
		return MethodMgFindAll
	case "mg_find_id":
		return MethodMgFindID
	case "mg_count":
		return MethodMgCount
	case "mg_update":
		return MethodMgUpdate
	case "mg_upsert":
		return MethodMgUpsert
	case "mg_insert":
		return MethodMgInsert
	case "mg_inserts":
		return MethodMgInserts
	case "mg_delete":
		return MethodMgDelete
	case "mg_find_and_modify":
		return MethodMgFindAndModify
	case "mg_transaction":
		return MethodMgTransaction
	}
	return MethodUnknown
}
