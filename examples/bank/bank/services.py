"""A redis-server of our own for the demo and the tests: a free port on 127.0.0.1, its own
directory, the append-only file on with `appendfsync always` (what the stream scorer's
guarantees assume), stopped afterwards. Debian's redis-server must be installed
(scripts/install_deps.sh)."""
import pathlib
import shutil
import socket
import subprocess
import time



class ServiceError(RuntimeError):
    """A service that would not start, with the reason."""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    def __init__(self, directory, port=None):
        self.directory = pathlib.Path(directory).resolve()  # redis-server changes into it
        self.port = port or free_port()
        self.process = None

    def start(self):
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServiceError("redis-server is missing: scripts/install_deps.sh installs it")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
             "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no",
             "--logfile", str(self.directory / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        client = redis.Redis(port=self.port)
        for _ in range(200):
            try:
                client.ping()
                return client
            except redis.ConnectionError:
                if self.process.poll() is not None:
                    raise ServiceError(f"redis-server exited: {(self.directory / 'redis.log').read_text()[-2000:]}")
                time.sleep(0.05)
        raise ServiceError("redis-server did not answer within 10 s")

    def kill(self):
        """SIGKILL: what the append-only file holds is all that survives."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
