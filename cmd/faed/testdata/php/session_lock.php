<?php
// Session locking (memcached.sess_locking=1) through PHP's memcached
// session handler, with the settings cmd/faed/session_test.go gives with -d.
//   php session_lock.php SID first DIR
//     starts the session, prints "locked", holds it for 1s, then sets
//     by_first, creates DIR/finished and releases the session.
//   php session_lock.php SID second DIR
//     run once "first" printed "locked": its session_start must return only
//     after "first" released the session, so it must see DIR/finished and
//     by_first.
// Prints "ok N - what" for every passed check and exits 1 at the first
// failure.

declare(strict_types=1);
require __DIR__ . '/lib.php';

if ($argc !== 4) {
    fwrite(STDOUT, "usage: php session_lock.php SID first|second DIR\n");
    exit(2);
}
[, $sid, $role, $dir] = $argv;
$check_prefix = "$role: ";


check('locking on', ini_get('memcached.sess_locking'), '1');
session_id($sid);
check('session_start', session_start(), true);
if ($role === 'first') {
    fwrite(STDOUT, "locked\n");
    fflush(STDOUT);
    sleep(1);
    $_SESSION['by_first'] = 'done';
    check('marker written', file_put_contents("$dir/finished", 'x'), 1);
    check('session_write_close', session_write_close(), true);
    exit(0);
}
// session_start returned: the first process must have let the session go.
check('first had finished when session_start returned', file_exists("$dir/finished"), true);
check('first\'s write is seen', $_SESSION['by_first'] ?? null, 'done');
check('session_write_close', session_write_close(), true);
