<?php
// PHP's Memcached extension on a unix socket, as its docs say:
// addServer('/path/to/socket', 0). Text protocol, then binary.
//   php unix_socket.php /run/faed/faed.sock
require __DIR__ . '/lib.php';
need_extension('memcached', 'php-memcached');

$path = $argv[1];
foreach ([false, true] as $binary) {
    $proto = $binary ? 'binary' : 'text';
    $m = new Memcached();
    $m->setOption(Memcached::OPT_BINARY_PROTOCOL, $binary);
    check("$proto: addServer(socket, 0)", $m->addServer($path, 0), true);
    $list = $m->getServerList();
    check("$proto: server list", $list[0]['host'], $path);
    check("$proto: set", $m->set("unix:$proto", "hello $proto", 60), true);
    check("$proto: get", $m->get("unix:$proto"), "hello $proto");
    check("$proto: get miss", $m->get("unix:none:$proto"), false);
    check("$proto: miss code", $m->getResultCode(), Memcached::RES_NOTFOUND);
    check("$proto: add existing", $m->add("unix:$proto", "x"), false);
    check("$proto: increment", [$m->set("unix:n:$proto", 41), $m->increment("unix:n:$proto")], [true, 42]);
    check("$proto: getMulti", $m->getMulti(["unix:$proto", "unix:n:$proto", "unix:none:$proto"]),
        ["unix:$proto" => "hello $proto", "unix:n:$proto" => 42]);
    check("$proto: delete", $m->delete("unix:$proto"), true);
    check("$proto: get deleted", $m->get("unix:$proto"), false);
    $big = str_repeat('v', 300000);
    check("$proto: set 300KB", $m->set("unix:big:$proto", $big), true);
    check("$proto: get 300KB", $m->get("unix:big:$proto"), $big);
    $m->quit();
}
