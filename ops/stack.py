"""The whole MedLedger stack as supervised processes: `start_stack(StackConfig(...))`.

Interface (used by `medledger up`, `medledger bench soak` and `medledger bench e2e`):

```python
from medledger.ops.stack import StackConfig, start_stack

config = StackConfig.on_free_ports(tmp_dir)        # or StackConfig(data_dir=...) for 8545/8000…
with start_stack(config) as stack:                 # returns once every /healthz answers
    stack.sequencer_rpc    # http://127.0.0.1:8545   (None with chain_rpc_url)
    stack.follower_rpc     # http://127.0.0.1:8546   (None with chain_rpc_url)
    stack.chain_rpc        # what the partner side reads/writes: sequencer or chain_rpc_url
    stack.partner_api      # http://127.0.0.1:8000   partner API + portal
    stack.regulator_api    # http://127.0.0.1:8001   regulator API + portal (reads the follower)
    stack.indexer_url, stack.regulator_indexer_url   # /healthz and /metrics of each indexer
    stack.deployment_file  # Deployment JSON of the contract suite
    stack.secrets          # ops.secrets.StackSecrets (admin, relayer, regulator keys…)
    stack.supervisor       # runtime.supervisor.Supervisor: kill/restart by name
    stack.health_urls()    # {process name: /healthz URL}
# leaving the block stops every process (API first, node last)
```

Process names: `sequencer`, `follower`, `indexer`, `regulator-indexer`, `api`,
`regulator-api` (the node pair is absent with `chain_rpc_url`). Everything lives under
`data_dir` (0700): `genesis.json`, `deployment.json`, `secrets/`, `sequencer/`, `follower/`,
`index/*.db`, `api/`, `regulator-api/`, `logs/<name>.log` (JSON lines). Every child runs
with umask 077 (`runtime.supervisor`), so what it writes is private.

Secrets (`ops.secrets`) go to the one process that uses them, by 0600 file where it can
read one: each API reads its master key (and the partner API its relayer key) from its
own data directory, and the regulator API its keystore's password and its staff token
from the files named by MEDLEDGER_API_REGULATOR_KEY_PASSWORD_FILE and
MEDLEDGER_API_REGULATOR_API_TOKEN_FILE, so no secret is in any process's environment; the
partner API, indexers and node get no secret of the APIs.

Our own node: the genesis is made once with a generated authority and bootstrap admin (the
admin key is `secrets.admin_key`, used by the demo seed). An external engine
(`chain_rpc_url` + `deployment_file`, e.g. anvil after `medledger deploy`): no node or
follower is started and the regulator side reads the same endpoint.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType

from medledger.ops.secrets import StackSecrets, load_or_create_secrets
from medledger.runtime.supervisor import ProcessSpec, Supervisor, SupervisorError, free_port

__all__ = ["PROCESS_NAMES", "Stack", "StackConfig", "start_stack"]

PROCESS_NAMES = ("sequencer", "follower", "indexer", "regulator-indexer", "api", "regulator-api")
CLI = (sys.executable, "-m", "medledger.cli")


@dataclass(frozen=True, slots=True)
class StackConfig:
    """Where the stack keeps its data, which ports it takes (0: any free port) and which
    chain it uses (our own node unless `chain_rpc_url` is given)."""

    data_dir: Path = Path(".medledger/stack")
    host: str = "127.0.0.1"
    sequencer_port: int = 8545
    follower_port: int = 8546
    # WebSocket JSON-RPC of each node (eth_subscribe), which wakes its indexer on every
    # new block instead of its poll; 0: any free port (only the stack's own indexers use it)
    sequencer_ws_port: int = 0
    follower_ws_port: int = 0
    partner_api_port: int = 8000
    regulator_api_port: int = 8001
    indexer_metrics_port: int = 0
    regulator_indexer_metrics_port: int = 0
    chain_rpc_url: str | None = None
    deployment_file: Path | None = None
    block_interval_ms: int = 150
    indexer_poll_interval: float = 0.5  # seconds between head polls once caught up
    index_db_url: str | None = None  # default sqlite under data_dir/index
    regulator_index_db_url: str | None = None
    public_base_url: str | None = None  # Digital Link host; default the partner API URL
    api_env: Mapping[str, str] = field(default_factory=dict)  # extra MEDLEDGER_API_* values
    health_timeout: float = 180.0

    @classmethod
    def on_free_ports(cls, data_dir: Path) -> StackConfig:
        """Every port 0 (tests and benchmarks run beside a `make run` on the defaults);
        change other fields with `dataclasses.replace`."""
        return cls(
            data_dir=data_dir,
            sequencer_port=0,
            follower_port=0,
            partner_api_port=0,
            regulator_api_port=0,
        )

    @property
    def own_node(self) -> bool:
        return self.chain_rpc_url is None

    def resolved(self) -> StackConfig:
        """Port 0 replaced by a free port, and checked: an external chain needs its
        deployment file."""
        if self.chain_rpc_url is not None and self.deployment_file is None:
            raise SupervisorError(
                f"--chain-rpc {self.chain_rpc_url} needs a deployment file "
                "(write one with `medledger deploy --rpc URL --key …`)"
            )

        def port(value: int, what: str, option: str) -> int:
            if value == 0:
                return free_port(self.host)
            if not _port_free(self.host, value):
                raise SupervisorError(
                    f"port {value} ({what}) is already in use on {self.host}; is another "
                    f"`medledger up` running? (choose another with {option})"
                )
            return value

        own = self.own_node

        return replace(
            self,
            sequencer_port=port(self.sequencer_port, "sequencer", "--sequencer-port")
            if own
            else self.sequencer_port,
            follower_port=port(self.follower_port, "follower", "--follower-port")
            if own
            else self.follower_port,
            sequencer_ws_port=port(
                self.sequencer_ws_port, "sequencer WebSocket", "sequencer_ws_port"
            )
            if own
            else self.sequencer_ws_port,
            follower_ws_port=port(self.follower_ws_port, "follower WebSocket", "follower_ws_port")
            if own
            else self.follower_ws_port,
            partner_api_port=port(self.partner_api_port, "partner API", "--api-port"),
            regulator_api_port=port(
                self.regulator_api_port, "regulator API", "--regulator-api-port"
            ),
            indexer_metrics_port=port(self.indexer_metrics_port, "indexer", "indexer_metrics_port"),
            regulator_indexer_metrics_port=port(
                self.regulator_indexer_metrics_port,
                "regulator indexer",
                "regulator_indexer_metrics_port",
            ),
        )


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


@dataclass
class Stack:
    config: StackConfig
    supervisor: Supervisor
    secrets: StackSecrets
    deployment_file: Path
    chain_rpc: str
    sequencer_rpc: str | None
    follower_rpc: str | None
    partner_api: str
    regulator_api: str
    indexer_url: str
    regulator_indexer_url: str
    index_db_url: str
    regulator_index_db_url: str

    def health_urls(self) -> dict[str, str]:
        return {name: self.supervisor.spec(name).health_url or "" for name in self.names()}

    def names(self) -> list[str]:
        return self.supervisor.names()

    def stop(self) -> None:
        self.supervisor.stop_all()

    def __enter__(self) -> Stack:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _genesis(config: StackConfig, secrets: StackSecrets) -> Path:
    """The chain's genesis (made once) and the deployment file derived from it."""
    from medledger.node.config import NodeConfig, demo_genesis
    from medledger.sdk.deploy import Deployment

    path = config.data_dir / "genesis.json"
    if not path.exists():
        made = demo_genesis(
            authorities=[secrets.account("authority").address],
            bootstrap_admin=secrets.account("admin").address,
            demo_authority_key=None,
            demo_admin_key=None,
            block_interval_ms=config.block_interval_ms,
        )
        made.save(path)
    genesis = NodeConfig.load(path)
    deployment_file = config.data_dir / "deployment.json"
    if not deployment_file.exists():
        Deployment(
            chain_id=genesis.chain_id,
            partners=genesis.contract_address("Partners"),
            devices=genesis.contract_address("Devices"),
            items=genesis.contract_address("Items"),
            records=genesis.contract_address("Records"),
        ).save(deployment_file)
    return path


def _node_specs(config: StackConfig, secrets: StackSecrets, genesis: Path) -> list[ProcessSpec]:
    seq = f"http://{config.host}:{config.sequencer_port}"
    fol = f"http://{config.host}:{config.follower_port}"
    common = ["--genesis", str(genesis), "--rpc-host", config.host]
    from medledger.ops.secrets import private_file

    # The key goes by a 0600 file, never the environment: only the sealing process reads it.
    key_file = secrets.directory / "authority-key.hex"
    private_file(key_file, lambda: secrets.authority_key)
    return [
        ProcessSpec(
            "sequencer",
            [*CLI, "node", "--data-dir", str(config.data_dir / "sequencer"), *common]
            + ["--rpc-port", str(config.sequencer_port), "--authority-key-file", str(key_file)]
            + ["--ws-port", str(config.sequencer_ws_port)],
            env=_LOG_ENV,
            health_url=seq + "/healthz",
            health_timeout=config.health_timeout,
        ),
        ProcessSpec(
            "follower",
            [*CLI, "node", "--data-dir", str(config.data_dir / "follower"), *common]
            + ["--rpc-port", str(config.follower_port), "--follow", seq]
            + ["--ws-port", str(config.follower_ws_port)],
            env=_LOG_ENV,
            health_url=fol + "/healthz",
            health_timeout=config.health_timeout,
        ),
    ]


_LOG_ENV = {"MEDLEDGER_LOG_FORMAT": "json", "PYTHONUNBUFFERED": "1"}


def _indexer_spec(
    name: str,
    config: StackConfig,
    *,
    rpc: str,
    db_url: str,
    port: int,
    deployment: Path,
    ws: str | None = None,
) -> ProcessSpec:
    argv = [*CLI, "indexer", "--rpc", rpc, "--deployment", str(deployment), "--db", db_url]
    argv += ["--metrics-port", str(port), "--poll-interval", str(config.indexer_poll_interval)]
    if ws is not None:
        argv += ["--ws", ws]
    return ProcessSpec(
        name,
        argv,
        env=_LOG_ENV,
        health_url=f"http://{config.host}:{port}/healthz",
        health_timeout=config.health_timeout,
    )


def _api_spec(
    name: str,
    config: StackConfig,
    *,
    rpc: str,
    db_url: str,
    port: int,
    deployment: Path,
    env: Mapping[str, str],
    regulator: bool,
) -> ProcessSpec:
    argv = [*CLI, "api", "--rpc", rpc, "--db", db_url, "--deployment", str(deployment)]
    argv += ["--host", config.host, "--port", str(port), "--data-dir", str(config.data_dir / name)]
    if regulator:
        argv.append("--regulator")
    return ProcessSpec(
        name,
        argv,
        env={**_LOG_ENV, **env, **config.api_env},
        health_url=f"http://{config.host}:{port}/healthz",
        health_timeout=config.health_timeout,
    )


def start_stack(config: StackConfig, *, supervisor: Supervisor | None = None) -> Stack:
    """Start every process of the stack, each once the chain it reads answers, and return
    when all are healthy; on any failure, stop what was started and raise
    `SupervisorError`."""
    config = config.resolved()
    config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    (config.data_dir / "index").mkdir(exist_ok=True, mode=0o700)
    secrets = load_or_create_secrets(config.data_dir / "secrets")
    sup = supervisor or Supervisor(config.data_dir / "logs")
    url = f"http://{config.host}"
    partner_api = f"{url}:{config.partner_api_port}"
    index_db = config.index_db_url or f"sqlite:///{config.data_dir / 'index' / 'partner.db'}"
    reg_db = config.regulator_index_db_url or (
        f"sqlite:///{config.data_dir / 'index' / 'regulator.db'}"
    )
    try:
        if config.own_node:
            genesis = _genesis(config, secrets)
            deployment = config.data_dir / "deployment.json"
            sequencer, follower = _node_specs(config, secrets, genesis)
            sup.start(sequencer)
            sup.start(follower, wait=False)
            chain = f"{url}:{config.sequencer_port}"
            regulator_chain = f"{url}:{config.follower_port}"
            chain_ws: str | None = f"ws://{config.host}:{config.sequencer_ws_port}"
            regulator_ws: str | None = f"ws://{config.host}:{config.follower_ws_port}"
        else:
            assert config.chain_rpc_url is not None and config.deployment_file is not None
            deployment = config.deployment_file
            chain = regulator_chain = config.chain_rpc_url
            chain_ws = regulator_ws = None  # another engine: its indexers poll
        # Master and relayer keys: read by each API from its data directory (ops.secrets).
        partner_env = {"MEDLEDGER_API_PUBLIC_BASE_URL": config.public_base_url or partner_api}
        # The regulator API's secrets by 0600 file (ops.secrets' layout), never by value.
        password_file = config.data_dir / "regulator-api" / "regulator-key-password"
        token_file = secrets.directory / "regulator-api-token"
        regulator_env = {
            "MEDLEDGER_API_PUBLIC_BASE_URL": config.public_base_url or partner_api,
            "MEDLEDGER_API_REGULATOR_KEYSTORE": str(secrets.regulator_keystore),
            "MEDLEDGER_API_REGULATOR_KEY_PASSWORD_FILE": str(password_file),
            "MEDLEDGER_API_REGULATOR_API_TOKEN_FILE": str(token_file),
            "MEDLEDGER_API_SUBMIT_RPC_URL": chain,
            # Public scans and recall acknowledgements, pulled as the regulator member.
            "MEDLEDGER_API_OVERSIGHT_FEED_URL": partner_api,
        }
        # Started side by side (Python start-up dominates), each once what it reads answers.
        sup.start(
            _indexer_spec("indexer", config, rpc=chain, db_url=index_db,
                          port=config.indexer_metrics_port, deployment=deployment, ws=chain_ws),
            wait=False,
        )  # fmt: skip
        sup.start(
            _api_spec("api", config, rpc=chain, db_url=index_db, port=config.partner_api_port,
                      deployment=deployment, env=partner_env, regulator=False),
            wait=False,
        )  # fmt: skip
        if config.own_node:
            sup.wait_healthy("follower")
        sup.start(
            _indexer_spec("regulator-indexer", config, rpc=regulator_chain, db_url=reg_db,
                          port=config.regulator_indexer_metrics_port, deployment=deployment,
                          ws=regulator_ws),
            wait=False,
        )  # fmt: skip
        sup.start(
            _api_spec("regulator-api", config, rpc=regulator_chain, db_url=reg_db,
                      port=config.regulator_api_port, deployment=deployment,
                      env=regulator_env, regulator=True),
            wait=False,
        )  # fmt: skip
        for name in sup.names():
            sup.wait_healthy(name)
    except BaseException:
        sup.stop_all()
        raise
    return Stack(
        config=config,
        supervisor=sup,
        secrets=secrets,
        deployment_file=deployment,
        chain_rpc=chain,
        sequencer_rpc=chain if config.own_node else None,
        follower_rpc=regulator_chain if config.own_node else None,
        partner_api=partner_api,
        regulator_api=f"{url}:{config.regulator_api_port}",
        indexer_url=f"{url}:{config.indexer_metrics_port}",
        regulator_indexer_url=f"{url}:{config.regulator_indexer_metrics_port}",
        index_db_url=index_db,
        regulator_index_db_url=reg_db,
    )
