"""Repair history: every self-test and burn-in, per module DNA, in SQLite.

The default file is ``$XDG_DATA_HOME/asicdrv/history.sqlite`` (``~/.local/share/...``);
``--db`` chooses another.  WAL mode and one transaction per run keep concurrent runs on one
bench PC from corrupting it; a file that is not ours or is damaged is a clear
:class:`HistoryError`, and it is never overwritten.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import urllib.parse

from ..errors import AsicError

SCHEMA_VERSION = 1
APPLICATION_ID = 0x41534943  # "ASIC": marks the file as ours


class HistoryError(AsicError):
    """The history database cannot be used (damaged, foreign, unwritable)."""


class HistoryMissing(HistoryError):
    """Reading a history that was never written."""


def default_path() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return os.path.join(base, "asicdrv", "history.sqlite")


class History:
    """``create=False`` (reading) never makes or changes a file or folder: a missing one is
    a :class:`HistoryMissing`, and a history on read-only media can be read.  Writing
    refuses a database a newer asicdrv wrote (its ``user_version`` above ours), and a
    file it could not set up is not left behind."""

    def __init__(self, path: str | None = None, create: bool = True):
        self.path = path or default_path()
        self.writable = create
        if not create and not os.path.exists(self.path):
            raise HistoryMissing(f"no recorded runs: {self.path} does not exist")
        existed = os.path.exists(self.path)
        try:
            self._db = self._connect(create)
        except (OSError, sqlite3.Error) as exc:
            self._forget(existed)
            raise HistoryError(f"history {self.path}: cannot open ({_cause(exc)})") from None
        try:
            self._prepare()
        except HistoryError:
            self._db.close()
            raise
        except sqlite3.OperationalError as exc:  # disk full, read-only, locked, ...
            self._db.close()
            self._forget(existed)
            raise HistoryError(f"history {self.path}: cannot use it ({_cause(exc)})") from None
        except sqlite3.DatabaseError as exc:
            self._db.close()
            self._forget(existed)
            raise HistoryError(
                f"history {self.path}: not an asicdrv history database or "
                f"damaged ({exc}); it was left as it is"
            ) from None

    def _connect(self, create: bool) -> sqlite3.Connection:
        if create:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            return sqlite3.connect(self.path, timeout=30, isolation_level=None)
        uri = "file:" + urllib.parse.quote(os.path.abspath(self.path))
        db = sqlite3.connect(uri + "?mode=ro", uri=True, timeout=30, isolation_level=None)
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return db
        except sqlite3.OperationalError:  # a WAL file on read-only media: as it stands
            db.close()
            return sqlite3.connect(uri + "?immutable=1", uri=True, isolation_level=None)

    def _forget(self, existed: bool) -> None:
        """A history file this call created but could not set up is removed again."""
        if existed:
            return
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                os.remove(self.path + suffix)
            except OSError:
                pass

    def _prepare(self) -> None:
        db = self._db
        app = db.execute("PRAGMA application_id").fetchone()[0]
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if app not in (0, APPLICATION_ID) or (app == 0 and tables):
            raise sqlite3.DatabaseError("another program's database")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if self.writable and version > SCHEMA_VERSION:
            raise HistoryError(
                f"history {self.path}: written by a newer asicdrv (schema {version}, this "
                f"one knows {SCHEMA_VERSION}); not written to, upgrade asicdrv to record here"
            )
        if not self.writable:
            db.execute("SELECT count(*) FROM runs").fetchone()  # damaged files fail here
            return
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA busy_timeout=30000")
        if app == 0:
            db.execute("BEGIN IMMEDIATE")
            try:
                if not db.execute(
                    "SELECT name FROM sqlite_master WHERE type='table' AND name='runs'"
                ).fetchone():
                    db.execute("""CREATE TABLE runs (
                        id INTEGER PRIMARY KEY, dna TEXT NOT NULL, model TEXT, kind TEXT,
                        started REAL, seconds REAL, ok INTEGER, verdict TEXT,
                        failed_chips TEXT, findings TEXT, device TEXT, tool TEXT)""")
                    db.execute("CREATE INDEX runs_dna ON runs(dna, started)")
                    db.execute(f"PRAGMA application_id={APPLICATION_ID}")
                    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        db.execute("SELECT count(*) FROM runs").fetchone()  # damaged files fail here

    def record(self, report: dict) -> int:
        """One row per module of a self-test or burn-in report; returns how many."""
        rows = []
        for m in report.get("modules", []):
            failed = sorted(
                {tuple(c) for c in m.get("dead_chips", [])}
                | {tuple(c) for c in m.get("weak_chips", [])}
            )
            rows.append(
                (
                    m["dna"],
                    m.get("model"),
                    report.get("kind"),
                    report.get("started", time.time()),
                    report.get("seconds"),
                    int(not m.get("findings") and not m.get("inconclusive")),
                    verdict_of(m),
                    json.dumps(failed),
                    json.dumps(m.get("findings", [])),
                    report.get("device"),
                    report.get("tool"),
                )
            )
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(
                    "INSERT INTO runs (dna, model, kind, started, seconds, ok, verdict, "
                    "failed_chips, findings, device, tool) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    rows,
                )
        except sqlite3.Error as exc:
            raise HistoryError(f"history {self.path}: could not record ({_cause(exc)})") from None
        return len(rows)

    def runs(self, dna: str | None = None) -> list[dict]:
        query = (
            "SELECT dna, model, kind, started, seconds, ok, verdict, failed_chips, "
            "findings, device FROM runs"
        )
        args: tuple = ()
        if dna:
            query += " WHERE dna = ?"
            args = (dna.lower(),)
        query += " ORDER BY started, id"
        try:
            rows = self._db.execute(query, args).fetchall()
        except sqlite3.Error as exc:
            raise HistoryError(f"history {self.path}: cannot read ({exc})") from None
        return [
            {
                "dna": r[0],
                "model": r[1],
                "kind": r[2],
                "started": r[3],
                "seconds": r[4],
                "ok": bool(r[5]),
                "verdict": r[6],
                "failed_chips": json.loads(r[7]),
                "findings": json.loads(r[8]),
                "device": r[9],
            }
            for r in rows
        ]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "History":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _cause(exc: BaseException) -> str:
    """What went wrong, in a technician's words where SQLite's are cryptic."""
    text = str(exc)
    low = text.lower()
    if "disk is full" in low or getattr(exc, "errno", None) == 28:
        return "the disk is full"
    if "readonly" in low or "read-only" in low or getattr(exc, "errno", None) == 30:
        return "the file or its folder is read-only"
    if "unable to open" in low:
        return f"cannot create or open it here ({text})"
    return text


def verdict_of(module: dict) -> str:
    """A module's verdict in a run: FINDINGS, INCONCLUSIVE (too little to judge) or PASS."""
    if module.get("findings"):
        return "FINDINGS"
    return "INCONCLUSIVE" if module.get("inconclusive") else "PASS"
