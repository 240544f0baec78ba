<?php
// One step of a PHP session's life, through PHP's memcached session handler
// (session.save_handler=memcached, save_path and memcached.sess_* given with
// -d by cmd/faed/session_test.go). Each step runs in its own PHP process:
//   php session_rw.php SID write|read|touch|destroy|gone
// Prints "ok N - what" for every passed check and exits 1 at the first
// failure, saying what differed.

declare(strict_types=1);
require __DIR__ . '/lib.php';

if ($argc !== 3) {
    fwrite(STDOUT, "usage: php session_rw.php SID write|read|touch|destroy|gone\n");
    exit(2);
}
[, $sid, $step] = $argv;


check('save handler', ini_get('session.save_handler'), 'memcached');
session_id($sid);
check("$step: session_start", session_start(), true);
check("$step: session id kept", session_id(), $sid);

// What "write" stores and the next steps expect: binary bytes, nested
// data and a value larger than one network read.
$data = ['n' => 1, 'bin' => "\x00\x01\r\n\xff", 'list' => [1, 'two', [3]], 'big' => str_repeat('0123456789', 20000)];

switch ($step) {
case 'write':
    check('new session is empty', $_SESSION, []);
    $_SESSION = $data;
    break;
case 'read':
    // Written by another process; then changed, so it is written back.
    check('data from the writing process', $_SESSION, $data);
    $_SESSION['n'] = 2;
    break;
case 'touch':
    // Unchanged: with session.lazy_write the handler only touches it.
    check('data changed by the reading process', $_SESSION['n'] ?? null, 2);
    check('rest unchanged', array_diff_key($_SESSION, ['n' => 0]), array_diff_key($data, ['n' => 0]));
    break;
case 'destroy':
    check('session_destroy', session_destroy(), true);
    exit(0);
case 'gone':
    check('destroyed session is empty', $_SESSION, []);
    break;
default:
    fwrite(STDOUT, "unknown step $step\n");
    exit(2);
}
check("$step: session_write_close", session_write_close(), true);
