<?php
// Exercises PHP's memcached extension (libmemcached, text protocol) against
// the servers given as arguments ("host:port" ...). Prints "ok N - what" for
// every passed check and exits 1 at the first failure, saying what differed.
// Run by cmd/faed/clients_test.go; usable by hand:
//   php memcached_ext.php 127.0.0.1:11211

declare(strict_types=1);
require __DIR__ . '/lib.php';

need_extension('memcached', 'php-memcached');
if ($argc < 2) {
    fwrite(STDOUT, "usage: php memcached_ext.php host:port [host:port ...]\n");
    exit(2);
}


$m = new Memcached();
$check_context = function (): string {
    global $m;
    return '  last result: ' . $m->getResultCode() . ' ' . $m->getResultMessage() . "\n";
};
$m->setOption(Memcached::OPT_BINARY_PROTOCOL, false);
$m->setOption(Memcached::OPT_CONNECT_TIMEOUT, 5000);
$m->setOption(Memcached::OPT_RECV_TIMEOUT, 5000000);
$m->setOption(Memcached::OPT_SEND_TIMEOUT, 5000000);
$m->setOption(Memcached::OPT_POLL_TIMEOUT, 5000);
$servers = [];
foreach (array_slice($argv, 1) as $hp) {
    [$h, $p] = explode(':', $hp);
    $servers[] = [$h, (int)$p];
}
check('addServers', $m->addServers($servers), true);
check('version answers', count(array_filter($m->getVersion() ?: [])) > 0, true);

$p = 'php-memcached-' . getmypid() . '-';

// set / get, typed values
check('set string', $m->set($p . 's', 'hello'), true);
check('get string', $m->get($p . 's'), 'hello');
check('set int', $m->set($p . 'i', 42), true);
check('get int', $m->get($p . 'i'), 42);
check('set float', $m->set($p . 'f', 1.5), true);
check('get float', $m->get($p . 'f'), 1.5);
check('set bool', $m->set($p . 'b', true), true);
check('get bool', $m->get($p . 'b'), true);
check('set empty string', $m->set($p . 'e', ''), true);
check('get empty string', $m->get($p . 'e'), '');
$bin = "a\r\nb\0c\xff\r\nEND\r\n";
check('set binary', $m->set($p . 'bin', $bin), true);
check('get binary', $m->get($p . 'bin'), $bin);
check('get missing', $m->get($p . 'missing'), false);
check('get missing result code', $m->getResultCode(), Memcached::RES_NOTFOUND);
// (libmemcached refuses non-ASCII keys in the text protocol: not tested.)

// getMulti over keys that spread over the servers
$many = [];
for ($i = 0; $i < 100; $i++) {
    $many[$p . "multi$i"] = "value $i";
}
check('setMulti 100', $m->setMulti($many), true);
$got = $m->getMulti(array_merge(array_keys($many), [$p . 'nokey1', $p . 'nokey2']));
ksort($got);
$want = $many;
ksort($want);
check('getMulti 100 + 2 missing', $got, $want);
check('getMulti order preserved', array_keys($m->getMulti([$p . 'multi7', $p . 'multi3', $p . 'multi5'], Memcached::GET_PRESERVE_ORDER)), [$p . 'multi7', $p . 'multi3', $p . 'multi5']);

// add / replace
check('add existing', $m->add($p . 's', 'x'), false);
check('add existing result', $m->getResultCode(), Memcached::RES_NOTSTORED);
check('add new', $m->add($p . 'a', 'added'), true);
check('get added', $m->get($p . 'a'), 'added');
check('replace missing', $m->replace($p . 'nokey', 'x'), false);
check('replace existing', $m->replace($p . 'a', 'replaced'), true);
check('get replaced', $m->get($p . 'a'), 'replaced');

// append / prepend need compression off
$m->setOption(Memcached::OPT_COMPRESSION, false);
check('set for append', $m->set($p . 'ap', 'mid'), true);
check('append', $m->append($p . 'ap', '_end'), true);
check('prepend', $m->prepend($p . 'ap', 'start_'), true);
check('get appended', $m->get($p . 'ap'), 'start_mid_end');
check('append missing', $m->append($p . 'nokey', 'x'), false);
$m->setOption(Memcached::OPT_COMPRESSION, true);

// cas
$r = $m->get($p . 'ap', null, Memcached::GET_EXTENDED);
check('get extended has value', $r['value'] ?? null, 'start_mid_end');
check('get extended has a cas', is_int($r['cas'] ?? null) && $r['cas'] != 0, true);
check('cas with current token', $m->cas($r['cas'], $p . 'ap', 'swapped'), true);
check('get after cas', $m->get($p . 'ap'), 'swapped');
check('cas with stale token', $m->cas($r['cas'], $p . 'ap', 'stale'), false);
check('cas stale result', $m->getResultCode(), Memcached::RES_DATA_EXISTS);
check('get after failed cas', $m->get($p . 'ap'), 'swapped');
$r2 = $m->get($p . 'ap', null, Memcached::GET_EXTENDED);
check('new cas differs', $r2['cas'] !== $r['cas'], true);
$multi = $m->getMulti([$p . 'ap', $p . 's'], Memcached::GET_EXTENDED);
check('getMulti extended cas', $multi[$p . 'ap']['cas'] ?? null, $r2['cas']);

// delete
check('delete existing', $m->delete($p . 'a'), true);
check('get deleted', $m->get($p . 'a'), false);
check('delete missing', $m->delete($p . 'a'), false);
check('delete missing result', $m->getResultCode(), Memcached::RES_NOTFOUND);
$dm = $m->deleteMulti([$p . 'multi1', $p . 'multi2', $p . 'nokey']);
check('deleteMulti', [$dm[$p . 'multi1'], $dm[$p . 'multi2'], $dm[$p . 'nokey']], [true, true, Memcached::RES_NOTFOUND]);

// increment / decrement
check('set counter', $m->set($p . 'n', 10), true);
check('increment', $m->increment($p . 'n'), 11);
check('increment by 5', $m->increment($p . 'n', 5), 16);
check('decrement by 6', $m->decrement($p . 'n', 6), 10);
check('decrement below zero', $m->decrement($p . 'n', 100), 0);
check('get counter', $m->get($p . 'n'), 0);
check('increment missing', $m->increment($p . 'nokey'), false);
check('set 64-bit counter', $m->set($p . 'big', '18446744073709551614'), true);
check('increment wraps', $m->increment($p . 'big', 2), 0);
check('increment non-numeric', $m->increment($p . 's'), false);

// touch
check('touch existing', $m->touch($p . 's', 1000), true);
check('get touched', $m->get($p . 's'), 'hello');
check('touch missing', $m->touch($p . 'nokey', 1000), false);
check('touch expires', $m->touch($p . 'i', -1), true);
check('get after touch -1', $m->get($p . 'i'), false);

// flags of PHP-serialized arrays and objects
$arr = ['a' => 1, 'b' => [1, 2, 3], 'c' => "x\r\ny"];
check('set array', $m->set($p . 'arr', $arr), true);
check('get array', $m->get($p . 'arr'), $arr);
$obj = new ArrayObject(['k' => 'v']);
$std = new stdClass();
$std->name = 'fae';
$std->list = [1, 2];
check('set object', $m->set($p . 'obj', $std), true);
$gotObj = $m->get($p . 'obj');
check('get object class', get_class($gotObj), 'stdClass');
check('get object fields', [$gotObj->name, $gotObj->list], ['fae', [1, 2]]);
check('set ArrayObject', $m->set($p . 'ao', $obj), true);
check('get ArrayObject', $m->get($p . 'ao')->getArrayCopy(), ['k' => 'v']);
// The extension keeps its value type in the low 4 bits of the flags word
// (0 string, 1 long, 2 double, 3 bool, 4 PHP-serialized) and marks
// compression with bit 4. GET_EXTENDED shows only the user part of the
// flags, so read what the server really stores with a raw text-protocol get.
function raw_get(string $key): ?array {
    global $servers;
    foreach ($servers as [$h, $port]) {
        $s = stream_socket_client("tcp://$h:$port", $errno, $errstr, 5);
        if ($s === false) {
            continue;
        }
        stream_set_timeout($s, 5);
        fwrite($s, "get $key\r\n");
        $line = fgets($s);
        if ($line !== false && str_starts_with($line, 'VALUE ')) {
            [, , $flags, $bytes] = explode(' ', trim($line));
            $data = stream_get_contents($s, (int)$bytes);
            fclose($s);
            return ['flags' => (int)$flags, 'bytes' => (int)$bytes, 'data' => $data];
        }
        fclose($s);
    }
    return null;
}
check('set a fresh int', $m->set($p . 'fi', 42), true);
check('raw flags of a string', raw_get($p . 's')['flags'] ?? null, 0);
check('raw flags of an int', raw_get($p . 'fi')['flags'] ?? null, 1);
check('raw flags of a float', raw_get($p . 'f')['flags'] ?? null, 2);
check('raw flags of a bool', raw_get($p . 'b')['flags'] ?? null, 3);
check('raw flags of an array', raw_get($p . 'arr')['flags'] ?? null, 4);
check('raw flags of an object', raw_get($p . 'obj')['flags'] ?? null, 4);
check('raw data of an array is PHP-serialized', raw_get($p . 'arr')['data'] ?? null, serialize($arr));

// compression of a big value (200 KB; threshold 2000 bytes)
$m->setOption(Memcached::OPT_COMPRESSION, true);
$big = '';
for ($i = 0; strlen($big) < 200 * 1024; $i++) {
    $big .= "line $i of a compressible value; ";
}
check('set 200 KB compressed', $m->set($p . 'big200', $big), true);
check('get 200 KB compressed', $m->get($p . 'big200'), $big);
$raw = raw_get($p . 'big200');
check('compressed flag set', (($raw['flags'] ?? 0) & (1 << 4)) !== 0, true);
check('compressed value is smaller', ($raw['bytes'] ?? PHP_INT_MAX) < strlen($big) / 4, true);
// A value that does not compress (random bytes), bigger than the threshold.
$rnd = random_bytes(300 * 1024);
check('set 300 KB random', $m->set($p . 'rnd', $rnd), true);
check('get 300 KB random', $m->get($p . 'rnd'), $rnd);
// Uncompressed big value, then compressed again, through getMulti.
$m->setOption(Memcached::OPT_COMPRESSION, false);
check('set 200 KB uncompressed', $m->set($p . 'big200u', $big), true);
$m->setOption(Memcached::OPT_COMPRESSION, true);
// (Without GET_PRESERVE_ORDER the keys come in the order the servers
// answered; === on arrays compares order too.)
check('getMulti big values', $m->getMulti([$p . 'big200', $p . 'big200u'], Memcached::GET_PRESERVE_ORDER), [$p . 'big200' => $big, $p . 'big200u' => $big]);
// Too big for memcached's 1 MiB item limit, even though it compresses: random.
check('set 2 MiB random fails', $m->set($p . 'huge', random_bytes(2 * 1024 * 1024)), false);
check('server still answers', $m->get($p . 's'), 'hello');

// expiry relative and absolute
check('set with absolute expiry in the future', $m->set($p . 'abs', 'x', time() + 1000), true);
check('get absolute expiry', $m->get($p . 'abs'), 'x');
check('set already expired (absolute past)', $m->set($p . 'past', 'x', time() - 1000), true);
check('get already expired', $m->get($p . 'past'), false);

fwrite(STDOUT, "# memcached_ext.php: all $n checks passed\n");
