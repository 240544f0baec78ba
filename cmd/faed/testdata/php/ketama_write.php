<?php
// Writes COUNT keys straight to memcached servers with PHP's memcached
// extension in libketama-compatible consistent hashing, as a PHP fleet does,
// so that cmd/faed/hashcompat_test.go can check that faed with
// "distribution: ketama" finds every one of them.
//   php ketama_write.php COUNT host:port[:weight] [host:port[:weight] ...]
// Key i is "php-ketama:i" and holds the string "value-i". Prints "ok N - what"
// per check and exits 1 at the first failure.

declare(strict_types=1);
require __DIR__ . '/lib.php';

need_extension('memcached', 'php-memcached');
if ($argc < 3 || !ctype_digit($argv[1])) {
    fwrite(STDOUT, "usage: php ketama_write.php COUNT host:port[:weight] ...\n");
    exit(2);
}
$count = (int)$argv[1];


$m = new Memcached();
$check_context = function (): string {
    global $m;
    return '  last result: ' . $m->getResultCode() . ' ' . $m->getResultMessage() . "\n";
};
check('text protocol', $m->setOption(Memcached::OPT_BINARY_PROTOCOL, false), true);
check('no compression (values stay as written)', $m->setOption(Memcached::OPT_COMPRESSION, false), true);
check('connect timeout', $m->setOption(Memcached::OPT_CONNECT_TIMEOUT, 5000), true);
// The order matters: libmemcached's DISTRIBUTION_CONSISTENT switches the
// weighted (libketama) continuum off again, so setting it after
// LIBKETAMA_COMPATIBLE would give another placement (100 points per server,
// unweighted). Applications commonly set both, in this order.
check('OPT_DISTRIBUTION consistent', $m->setOption(Memcached::OPT_DISTRIBUTION, Memcached::DISTRIBUTION_CONSISTENT), true);
check('OPT_LIBKETAMA_COMPATIBLE', $m->setOption(Memcached::OPT_LIBKETAMA_COMPATIBLE, true), true);
check('libketama mode in force', $m->getOption(Memcached::OPT_LIBKETAMA_COMPATIBLE), 1);
check('MD5 key hash', $m->getOption(Memcached::OPT_HASH), Memcached::HASH_MD5);

$servers = [];
foreach (array_slice($argv, 2) as $spec) {
    $p = explode(':', $spec);
    $servers[] = [$p[0], (int)$p[1], (int)($p[2] ?? 0)];
}
check('addServers', $m->addServers($servers), true);

$items = [];
for ($i = 0; $i < $count; $i++) {
    $items["php-ketama:$i"] = "value-$i";
}
foreach (array_chunk($items, 100, true) as $chunk) {
    check('setMulti ' . count($chunk) . ' keys', $m->setMulti($chunk), true);
}
$got = $m->getMulti(array_keys($items));
check("getMulti reads all $count back", is_array($got) ? count($got) : $got, $count);

// Where the extension put the keys, per server, for the log.
$per = [];
foreach (array_keys($items) as $k) {
    $s = $m->getServerByKey($k);
    $per[$s['host'] . ':' . $s['port']] = ($per[$s['host'] . ':' . $s['port']] ?? 0) + 1;
}
ksort($per);
$spread = [];
foreach ($per as $hp => $c) {
    $spread[] = "$hp=$c";
}
fwrite(STDOUT, "# ketama_write.php: $count keys written over " . count($servers) . " servers (" . implode(' ', $spread) . ")\n");
