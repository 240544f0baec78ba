<?php
// Exercises PHP's memcache extension (pecl/memcache, text protocol) against
// the servers given as arguments ("host:port" ...). Prints "ok N - what" for
// every passed check and exits 1 at the first failure, saying what differed.
// Run by cmd/faed/clients_test.go; usable by hand:
//   php memcache_ext.php 127.0.0.1:11211

declare(strict_types=1);
require __DIR__ . '/lib.php';

need_extension('memcache', 'php-memcache');
if ($argc < 2) {
    fwrite(STDOUT, "usage: php memcache_ext.php host:port [host:port ...]\n");
    exit(2);
}


$mc = new Memcache();
foreach (array_slice($argv, 1) as $hp) {
    [$h, $p] = explode(':', $hp);
    check("addServer $hp", $mc->addServer($h, (int)$p, false, 1, 5), true);
}
check('getVersion', is_string($mc->getVersion()), true);

$p = 'php-memcache-' . getmypid() . '-';

// set / get
check('set string', $mc->set($p . 's', 'hello', 0, 0), true);
check('get string', $mc->get($p . 's'), 'hello');
check('set with flags', $mc->set($p . 'fl', 'flagged', 0, 1000), true);
check('get with flags', $mc->get($p . 'fl'), 'flagged');
$bin = "a\r\nb\0c\xff\r\nEND\r\n";
check('set binary', $mc->set($p . 'bin', $bin), true);
check('get binary', $mc->get($p . 'bin'), $bin);
check('get missing', $mc->get($p . 'missing'), false);
$arr = ['x' => 1, 'y' => [2, 3]];
check('set array', $mc->set($p . 'arr', $arr), true);
check('get array', $mc->get($p . 'arr'), $arr);
$flags = null;
$mc->get($p . 'arr', $flags);
check('array flags say serialized', ($flags & 1) === 1, true);
check('set int', $mc->set($p . 'i', 7), true);
check('get int', $mc->get($p . 'i'), 7);

// multi-get: get with an array
$many = [];
for ($i = 0; $i < 50; $i++) {
    $many[$p . "m$i"] = "v$i";
    check("set m$i", $mc->set($p . "m$i", "v$i"), true);
}
$got = $mc->get(array_merge(array_keys($many), [$p . 'nokey']));
ksort($got);
ksort($many);
check('multi-get 50 + 1 missing', $got, $many);
check('multi-get all missing', $mc->get([$p . 'nokey1', $p . 'nokey2']), []);

// add / replace
check('add existing', $mc->add($p . 's', 'x'), false);
check('add new', $mc->add($p . 'a', 'added'), true);
check('replace existing', $mc->replace($p . 'a', 'replaced'), true);
check('get replaced', $mc->get($p . 'a'), 'replaced');
check('replace missing', $mc->replace($p . 'nokey', 'x'), false);

// delete
check('delete existing', $mc->delete($p . 'a'), true);
check('get deleted', $mc->get($p . 'a'), false);
check('delete missing', $mc->delete($p . 'a'), false);

// increment / decrement
check('set counter', $mc->set($p . 'n', '10'), true);
check('increment', $mc->increment($p . 'n'), 11);
check('increment by 5', $mc->increment($p . 'n', 5), 16);
check('decrement by 6', $mc->decrement($p . 'n', 6), 10);
check('decrement below zero', $mc->decrement($p . 'n', 100), 0);
check('increment missing', $mc->increment($p . 'nokey'), false);

// a big value, compressed by the client above its threshold
$big = str_repeat('compressible text ', 12000);
check('set 200 KB compressed', $mc->set($p . 'big', $big, MEMCACHE_COMPRESSED), true);
check('get 200 KB compressed', $mc->get($p . 'big'), $big);
check('set 200 KB plain', $mc->set($p . 'bigp', $big), true);
check('get 200 KB plain', $mc->get($p . 'bigp'), $big);

fwrite(STDOUT, "# memcache_ext.php: all $n checks passed\n");
