<?php
// Writes COUNT keys straight to memcached servers with PHP's memcached
// extension in one of libmemcached's consistent distributions, as a PHP
// fleet does, so that cmd/faed/hashcompat_test.go can check that faed with
// the matching "distribution:" finds every one of them.
//   php libmemcached_write.php [--prefix=PREFIX] MODE COUNT host:port[:weight] [host:port[:weight] ...]
// MODE is the options an application sets, in order, before addServers:
//   ketama                  OPT_DISTRIBUTION = DISTRIBUTION_CONSISTENT, then
//                           OPT_LIBKETAMA_COMPATIBLE (faed: ketama)
//   ketama-then-consistent  OPT_LIBKETAMA_COMPATIBLE, then OPT_DISTRIBUTION =
//                           DISTRIBUTION_CONSISTENT (faed: libmemcached-consistent-md5)
//   consistent              OPT_DISTRIBUTION = DISTRIBUTION_CONSISTENT alone
//                           (faed: libmemcached-consistent)
// Key i is "php-MODE:i" and holds the string "value-i". With --prefix the
// application also sets OPT_PREFIX_KEY => PREFIX (and leaves
// OPT_HASH_WITH_PREFIX_KEY off): libmemcached then stores key i as
// PREFIX . "php-MODE:i" but places it by the hash of "php-MODE:i" alone
// (faed: hash_skip_prefix: PREFIX). Prints "ok N - what" per check and exits
// 1 at the first failure.

declare(strict_types=1);
require __DIR__ . '/lib.php';

need_extension('memcached', 'php-memcached');
$args = array_slice($argv, 1);
$prefix = '';
if (isset($args[0]) && str_starts_with($args[0], '--prefix=')) {
    $prefix = substr(array_shift($args), strlen('--prefix='));
}
$modes = ['ketama', 'ketama-then-consistent', 'consistent'];
if (count($args) < 3 || !in_array($args[0], $modes, true) || !ctype_digit($args[1])) {
    fwrite(STDOUT, "usage: php libmemcached_write.php [--prefix=PREFIX] ketama|ketama-then-consistent|consistent COUNT host:port[:weight] ...\n");
    exit(2);
}
$mode = $args[0];
$count = (int)$args[1];

$m = new Memcached();
$check_context = function (): string {
    global $m;
    return '  last result: ' . $m->getResultCode() . ' ' . $m->getResultMessage() . "\n";
};
check('text protocol', $m->setOption(Memcached::OPT_BINARY_PROTOCOL, false), true);
check('no compression (values stay as written)', $m->setOption(Memcached::OPT_COMPRESSION, false), true);
check('connect timeout', $m->setOption(Memcached::OPT_CONNECT_TIMEOUT, 5000), true);
switch ($mode) {
case 'ketama':
    // Setting OPT_DISTRIBUTION after OPT_LIBKETAMA_COMPATIBLE would turn
    // libketama's weighting off again (the next mode).
    check('OPT_DISTRIBUTION consistent', $m->setOption(Memcached::OPT_DISTRIBUTION, Memcached::DISTRIBUTION_CONSISTENT), true);
    check('OPT_LIBKETAMA_COMPATIBLE', $m->setOption(Memcached::OPT_LIBKETAMA_COMPATIBLE, true), true);
    check('libketama mode in force', $m->getOption(Memcached::OPT_LIBKETAMA_COMPATIBLE), 1);
    check('MD5 key hash', $m->getOption(Memcached::OPT_HASH), Memcached::HASH_MD5);
    break;
case 'ketama-then-consistent':
    check('OPT_LIBKETAMA_COMPATIBLE', $m->setOption(Memcached::OPT_LIBKETAMA_COMPATIBLE, true), true);
    check('OPT_DISTRIBUTION consistent', $m->setOption(Memcached::OPT_DISTRIBUTION, Memcached::DISTRIBUTION_CONSISTENT), true);
    check('plain consistent distribution', $m->getOption(Memcached::OPT_DISTRIBUTION), Memcached::DISTRIBUTION_CONSISTENT);
    check('libketama weighting off again', $m->getOption(Memcached::OPT_LIBKETAMA_COMPATIBLE), 0);
    check('MD5 key hash kept', $m->getOption(Memcached::OPT_HASH), Memcached::HASH_MD5);
    break;
case 'consistent':
    check('OPT_DISTRIBUTION consistent', $m->setOption(Memcached::OPT_DISTRIBUTION, Memcached::DISTRIBUTION_CONSISTENT), true);
    check('libketama weighting off', $m->getOption(Memcached::OPT_LIBKETAMA_COMPATIBLE), 0);
    check('default (one_at_a_time) key hash', $m->getOption(Memcached::OPT_HASH), Memcached::HASH_DEFAULT);
    break;
}

if ($prefix !== '') {
    check('OPT_PREFIX_KEY', $m->setOption(Memcached::OPT_PREFIX_KEY, $prefix), true);
    check('prefix in force', $m->getOption(Memcached::OPT_PREFIX_KEY), $prefix);
    check('OPT_HASH_WITH_PREFIX_KEY off: keys hashed without the prefix', $m->getOption(Memcached::OPT_HASH_WITH_PREFIX_KEY), 0);
}

$servers = [];
$weighted = false;
foreach (array_slice($args, 2) as $spec) {
    $p = explode(':', $spec);
    $servers[] = [$p[0], (int)$p[1], (int)($p[2] ?? 0)];
    $weighted = $weighted || (int)($p[2] ?? 0) > 1;
}
check('addServers', $m->addServers($servers), true);
// libmemcached turns weighting (the ketama continuum) on when a server of
// weight above 1 joins: the consistent modes then place keys as ketama.
check('weighting after addServers', $m->getOption(Memcached::OPT_LIBKETAMA_COMPATIBLE), $mode === 'ketama' || $weighted ? 1 : 0);

$items = [];
for ($i = 0; $i < $count; $i++) {
    $items["php-$mode:$i"] = "value-$i";
}
foreach (array_chunk($items, 100, true) as $chunk) {
    check('setMulti ' . count($chunk) . ' keys', $m->setMulti($chunk), true);
}
$got = $m->getMulti(array_keys($items));
check("getMulti reads all $count back", is_array($got) ? count($got) : $got, $count);

// Where the extension put the keys, per server, for the log
// (getServerByKey hashes as the writes do: without the prefix).
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
$as = $prefix === '' ? '' : " as '$prefix' . key";
fwrite(STDOUT, "# libmemcached_write.php $mode: $count keys written$as over " . count($servers) . " servers (" . implode(' ', $spread) . ")\n");
