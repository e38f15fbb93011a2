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


def spark_home():
    """The Spark distribution inside the pyspark package (its bin/ has spark-class and spark-submit)."""
    import pyspark

    return pathlib.Path(pyspark.__file__).resolve().parent


class SparkCluster:
    """A Spark standalone cluster on loopback, started with Spark's own launcher from the pyspark
    package (bin/spark-class: the wheel has no sbin/start-master.sh): a master and `workers`
    workers of `cores` cores each, own ports and work directories, stopped afterwards. Java must
    be installed (scripts/install_deps.sh).

        with SparkCluster(tmp) as cluster:
            subprocess.run([cluster.submit, "--master", cluster.url, "jobs/backtest.py", ...])
    """

    def __init__(self, directory, workers=2, cores=1, memory="1g"):
        self.directory = pathlib.Path(directory).resolve()
        self.workers, self.cores, self.memory = workers, cores, memory
        self.port, self.ui_port = free_port(), free_port()
        self.url = f"spark://127.0.0.1:{self.port}"
        self.submit = str(spark_home() / "bin" / "spark-submit")
        self.processes = []

    def _launch(self, name, *arguments):
        if shutil.which("java") is None:
            raise ServiceError("java is missing: scripts/install_deps.sh installs a headless Java runtime")
        log = open(self.directory / f"{name}.log", "w")
        env = {**__import__("os").environ, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_HOME": str(spark_home()),
               "SPARK_LOG_DIR": str(self.directory)}
        process = subprocess.Popen([str(spark_home() / "bin" / "spark-class"), *arguments], stdout=log,
                                   stderr=subprocess.STDOUT, env=env)
        self.processes.append(process)
        return process

    def alive_workers(self):
        import json
        import urllib.request

        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json/", timeout=2) as answer:
                return int(json.loads(answer.read()).get("aliveworkers", 0))
        except OSError:
            return 0

    def start(self, timeout=120):
        self.directory.mkdir(parents=True, exist_ok=True)
        self._launch("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port",
                     str(self.port), "--webui-port", str(self.ui_port))
        for k in range(self.workers):
            work = self.directory / f"worker-{k}"
            work.mkdir(exist_ok=True)
            self._launch(f"worker-{k}", "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--cores",
                         str(self.cores), "--memory", self.memory, "--webui-port", str(free_port()), "--work-dir",
                         str(work), self.url)
        deadline = time.monotonic() + timeout
        while self.alive_workers() < self.workers:
            if any(p.poll() is not None for p in self.processes) or time.monotonic() > deadline:
                logs = "\n".join((self.directory / f).read_text()[-1500:] for f in sorted(
                    p.name for p in self.directory.glob("*.log")))
                self.stop()
                raise ServiceError(f"the Spark cluster did not come up:\n{logs}")
            time.sleep(0.5)
        return self

    def stop(self):
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.processes = []

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
