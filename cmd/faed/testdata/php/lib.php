<?php
// Shared by the test scripts in this folder: any PHP warning or notice fails
// the script, and check() prints "ok N - what" or, at the first mismatch,
// "not ok N - what" with both values and exits 1. Deprecations are let
// through: the extensions themselves trigger some on PHP 8.2.
//   require __DIR__ . '/lib.php';

error_reporting(E_ALL & ~E_DEPRECATED);
set_error_handler(function (int $no, string $msg, string $file, int $line): bool {
    fwrite(STDOUT, "not ok - PHP error: $msg at $file:$line\n");
    exit(1);
}, E_ALL & ~E_DEPRECATED);

// need_extension fails the script unless extension $ext is loaded.
function need_extension(string $ext, string $package): void {
    if (!extension_loaded($ext)) {
        fwrite(STDOUT, "not ok - the $ext extension is not loaded (apt-get install $package)\n");
        exit(1);
    }
}

// show renders a value for a failure message, cut to 300 bytes.
function show($v): string {
    $s = var_export($v, true);
    return strlen($s) > 300 ? substr($s, 0, 300) . '... (' . strlen($s) . ' bytes)' : $s;
}

$n = 0;
$check_prefix = '';     // put before every check's name, e.g. a process's role
$check_context = null;  // callable returning more lines for a failure, or null

function check(string $what, $got, $want): void {
    global $n, $check_prefix, $check_context;
    $n++;
    if ($got !== $want) {
        $more = $check_context ? ($check_context)() : '';
        fwrite(STDOUT, "not ok $n - $check_prefix$what\n  got:  " . show($got) . "\n  want: " . show($want) . "\n$more");
        exit(1);
    }
    fwrite(STDOUT, "ok $n - $check_prefix$what\n");
}
