<?php
// A PHP page's view of faed: the stock Memcached extension for the cache,
// and fae's text verbs (lock, unlock, id) on the same port, which the
// extension has no call for, through a plain socket.
//
//   php client/php/demo.php [HOST:PORT]     (default 127.0.0.1:11211)
//
// Prints what it does, one line each, and exits 1 if faed answered
// something unexpected.

error_reporting(E_ALL & ~E_DEPRECATED);
$addr = $argv[1] ?? '127.0.0.1:11211';
[$host, $port] = explode(':', $addr);

// Fae is the socket half: one connection, one request and one reply line
// at a time.
final class Fae {
    private $sock;

    public function __construct(string $host, int $port) {
        $this->sock = @fsockopen($host, $port, $errno, $errstr, 2.0);
        if (!$this->sock) {
            throw new RuntimeException("faed at $host:$port: $errstr");
        }
        stream_set_timeout($this->sock, 5);
    }

    private function call(string $line): string {
        fwrite($this->sock, $line . "\r\n");
        $reply = fgets($this->sock);
        if ($reply === false) {
            throw new RuntimeException("faed closed the connection after: $line");
        }
        return rtrim($reply, "\r\n");
    }

    // lock returns the lease's token, or null while another holds $key.
    public function lock(string $key, int $ttlMs): ?string {
        $r = $this->call("lock $key $ttlMs");
        if ($r === 'BUSY') {
            return null;
        }
        if (strncmp($r, 'LOCKED ', 7) !== 0) {
            throw new RuntimeException("lock $key: $r");
        }
        return substr($r, 7);
    }

    // unlock reports whether $token still held $key's lease.
    public function unlock(string $key, string $token): bool {
        $r = $this->call("unlock $key $token");
        if ($r !== 'UNLOCKED' && $r !== 'NOT_FOUND') {
            throw new RuntimeException("unlock $key: $r");
        }
        return $r === 'UNLOCKED';
    }

    // id returns a new 64-bit id (PHP ints are 64-bit).
    public function id(int $tag = 0): int {
        $r = $this->call("id $tag");
        if (strncmp($r, 'ID ', 3) !== 0) {
            throw new RuntimeException("id: $r");
        }
        return (int) substr($r, 3);
    }
}

$failed = false;
function say(string $what, bool $ok): void {
    global $failed;
    echo ($ok ? 'ok   ' : 'FAIL ') . $what . "\n";
    $failed = $failed || !$ok;
}

$mc = new Memcached();
$mc->addServer($host, (int) $port);
$fae = new Fae($host, (int) $port);

$key = 'demo:order:' . getmypid();
say("set $key through Memcached", $mc->set($key, ['total' => 42], 60));
say("get $key back", $mc->get($key) === ['total' => 42]);

$token = $fae->lock("job:$key", 5000);
say("lock job:$key", $token !== null);
say("a second lock of job:$key is BUSY", $fae->lock("job:$key", 5000) === null);
say("a wrong token does not unlock", $fae->unlock("job:$key", 'not-the-token') === false);
say("the token unlocks", $fae->unlock("job:$key", $token) === true);

$a = $fae->id(3);
$b = $fae->id(3);
say("ids increase ($a < $b)", $a > 0 && $a < $b);

exit($failed ? 1 : 0);
