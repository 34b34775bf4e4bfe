"""The durable key-value store under the chain: one LMDB environment.

Two views of it:

- `WriteBuffer` is the sequencer's (or follower's) view while it builds one block. Every
  write lands in an in-memory overlay; `commit()` writes the whole overlay in one LMDB write
  transaction, synced to disk before it returns. A crash before that returns leaves the
  previous block as the head; after it, the new block with all its state, receipts, index
  postings and seal. LMDB's copy-on-write pages need no repair after `kill -9`.
- `Snapshot` is a reader's view: one LMDB read transaction, so an RPC request sees one
  consistent head even while a block is being committed.

Both duck-type py-evm's `DatabaseAPI` (`__getitem__`, `__setitem__`, `__delitem__`,
`exists`, ...), so `node.evm` can put py-evm's `ChainDB` directly on top of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import lmdb

from medledger.node.errors import StoreError

__all__ = ["LmdbStore", "Snapshot", "WriteBuffer"]

_DELETED = object()
DEFAULT_MAP_SIZE = 1 << 38  # 256 GiB of address space; the file grows as written


class LmdbStore:
    """The LMDB environment of one node's data directory."""

    def __init__(self, path: Path, *, map_size: int = DEFAULT_MAP_SIZE) -> None:
        path.mkdir(parents=True, exist_ok=True)
        try:
            self.env = lmdb.open(
                str(path),
                map_size=map_size,
                max_readers=512,
                sync=True,
                metasync=True,
                readahead=False,
                lock=True,
            )
            # Reader slots of processes killed while reading (an RPC front that died with
            # its node) stay taken until someone clears them.
            self.env.reader_check()
        except lmdb.Error as exc:
            raise StoreError(f"cannot open the chain store at {path}: {exc}") from exc

    def snapshot(self) -> Snapshot:
        return Snapshot(self.env)

    def write_buffer(self) -> WriteBuffer:
        return WriteBuffer(self.env)

    def close(self) -> None:
        self.env.close()


class _MappingMixin:
    def __getitem__(self, key: bytes) -> bytes:  # pragma: no cover - overridden
        raise NotImplementedError

    def get(self, key: bytes, default: bytes | None = None) -> bytes | None:
        try:
            return self[key]
        except KeyError:
            return default

    def exists(self, key: bytes) -> bool:
        return self.get(key) is not None

    def __contains__(self, key: object) -> bool:
        return isinstance(key, bytes) and self.exists(key)

    def set(self, key: bytes, value: bytes) -> None:
        self[key] = value

    def __setitem__(self, key: bytes, value: bytes) -> None:  # pragma: no cover
        raise NotImplementedError

    def __delitem__(self, key: bytes) -> None:  # pragma: no cover
        raise NotImplementedError

    def delete(self, key: bytes) -> None:
        try:
            del self[key]
        except KeyError:
            pass


class Snapshot(_MappingMixin):
    """A consistent read view (one LMDB read transaction). Writes stay in a private overlay
    and are discarded: `eth_call` may touch state, never the store."""

    def __init__(self, env: lmdb.Environment) -> None:
        self._txn = env.begin(buffers=False)
        self._overlay: dict[bytes, object] = {}

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __getitem__(self, key: bytes) -> bytes:
        if key in self._overlay:
            value = self._overlay[key]
            if value is _DELETED:
                raise KeyError(key)
            assert isinstance(value, bytes)
            return value
        value = self._txn.get(key)
        if value is None:
            raise KeyError(key)
        return bytes(value)

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._overlay[key] = value

    def __delitem__(self, key: bytes) -> None:
        self._overlay[key] = _DELETED

    def scan(self, start: bytes, stop: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Committed keys in [start, stop), in order."""
        cursor = self._txn.cursor()
        if not cursor.set_range(start):
            return
        for key, value in cursor:
            if key >= stop:
                break
            yield bytes(key), bytes(value)

    def close(self) -> None:
        self._txn.abort()


class WriteBuffer(_MappingMixin):
    """The writer's view: committed data plus this block's uncommitted writes."""

    def __init__(self, env: lmdb.Environment) -> None:
        self._env = env
        self._pending: dict[bytes, object] = {}
        self._txn = env.begin(buffers=False)

    def __getitem__(self, key: bytes) -> bytes:
        value = self._pending.get(key)
        if value is None:
            got = self._txn.get(key)
            if got is None:
                raise KeyError(key)
            return bytes(got)
        if value is _DELETED:
            raise KeyError(key)
        assert isinstance(value, bytes)
        return value

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._pending[key] = bytes(value)

    def __delitem__(self, key: bytes) -> None:
        if key not in self:
            raise KeyError(key)
        self._pending[key] = _DELETED

    @property
    def pending_writes(self) -> int:
        return len(self._pending)

    def commit(self) -> None:
        """Write everything buffered in one durable LMDB transaction."""
        self._txn.abort()
        try:
            with self._env.begin(write=True) as txn:
                for key, value in self._pending.items():
                    if value is _DELETED:
                        txn.delete(key)
                    else:
                        assert isinstance(value, bytes)
                        txn.put(key, value)
        except lmdb.Error as exc:
            raise StoreError(f"cannot commit to the chain store: {exc}") from exc
        finally:
            self._pending.clear()
            self._txn = self._env.begin(buffers=False)

    def discard(self) -> None:
        """Forget everything buffered since the last commit."""
        self._pending.clear()
        self._txn.abort()
        self._txn = self._env.begin(buffers=False)

    def close(self) -> None:
        self._txn.abort()
