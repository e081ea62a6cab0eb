"""Apache Kafka for the stack: resolved from Maven Central, run on the JDK in KRaft mode.

deploy/kafka/pom.xml pins the broker's coordinates; Maven copies its runtime classpath into a
git-ignored cache keyed by the pom's hash, so a version bump resolves afresh. Storage is
formatted once with `kafka.tools.StorageTool`, then `kafka.Kafka` runs as a child process.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import uuid
import base64
from dataclasses import dataclass
from pathlib import Path
from string import Template

from openrcm_devstack.paths import local_dir, repo_root
from openrcm_devstack.process import ManagedProcess, background_niceness, ensure_port_free, wait_for_port


def kafka_classpath() -> Path:
    """The folder of broker jars, resolved with Maven on first use."""
    pom = repo_root() / "deploy" / "kafka" / "pom.xml"
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()[:12]
    lib = local_dir() / "kafka" / f"lib-{digest}"
    if (lib / ".complete").exists():
        return lib
    if shutil.which("mvn") is None:
        raise RuntimeError("Maven (mvn) is needed to resolve the Kafka broker from Maven Central")
    partial = lib.with_name(lib.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    result = subprocess.run(
        ["mvn", "-q", "-B", "-f", str(pom), "dependency:copy-dependencies", "-DincludeScope=runtime",
         f"-DoutputDirectory={partial}"], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"resolving the Kafka broker with Maven failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    shutil.rmtree(lib, ignore_errors=True)
    partial.rename(lib)
    (lib / ".complete").touch()
    return lib


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise RuntimeError("a JDK 17+ (java) is needed to run the Kafka broker")
    return found


@dataclass
class KafkaBroker:
    state_dir: Path
    port: int
    controller_port: int
    heap: str = "768m"
    process: ManagedProcess | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    def _write_config(self) -> Path:
        template = Template((repo_root() / "deploy" / "kafka" / "server.properties").read_text())
        config = self.state_dir / "server.properties"
        config.write_text(template.substitute(port=self.port, controller_port=self.controller_port,
                                              data_dir=self.data_dir))
        return config

    def _java_argv(self, main_class: str, *args: str) -> list[str]:
        lib = kafka_classpath()
        # TieredStopAtLevel=1: the JIT's quick tier only. On a machine the broker shares with
        # everything else, the optimising tier (C2) kept compiling for minutes after each start,
        # 7-9 % of a core, half of the broker's CPU under the intake benchmark at 300 claims/s;
        # quick-tier code carries this stack's few thousand records a second with room to spare
        # (broker 22 % -> 13 % of a core at 300/s, docs/benchmarks.md, session 6). A dedicated
        # production broker keeps the JVM's default (docker-compose.yml).
        return [
            _java(), "-Xms256m", f"-Xmx{self.heap}", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={repo_root() / 'deploy' / 'kafka' / 'log4j2.properties'}",
            f"-Dkafka.log.file={self.state_dir / 'server.log'}",
            "-cp", f"{lib}/*", main_class, *args,
        ]

    def format_storage(self, config: Path) -> None:
        if (self.data_dir / "meta.properties").exists():
            return
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        result = subprocess.run(self._java_argv("kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}",
                                                "-c", str(config)), capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}")

    def start(self, timeout: float = 90) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        config = self._write_config()
        self.format_storage(config)
        ensure_port_free("Kafka", self.port)
        ensure_port_free("Kafka controller", self.controller_port)
        # Background priority (process.background_niceness): no API request waits on the broker;
        # events do, and they are background work.
        self.process = ManagedProcess("kafka", self._java_argv("kafka.Kafka", str(config)),
                                      log_file=self.state_dir / "stdout.log", niceness=background_niceness())
        self.process.start()
        wait_for_port(self.process, "127.0.0.1", self.port, timeout)

    def stop(self) -> None:
        if self.process:
            self.process.stop(timeout=30)
            self.process = None
