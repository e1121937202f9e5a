"""SQLite persistence (SQLAlchemy 2 async + aiosqlite): users, sessions, calls and the messages left after them."""

import hashlib
from collections.abc import Awaitable, Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Integer,
    String,
    TypeDecorator,
    delete,
    event,
    exists,
    func,
    inspect,
    or_,
    select,
    text,
    true,
    union,
    update,
)
from sqlalchemy.engine import Connection, CursorResult
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A moment in time, stored in UTC and read back in UTC. SQLite keeps no time zone, so a plain
    DateTime(timezone=True) comes back naive there; a naive value going in is refused rather than guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError('a datetime without a time zone cannot be stored')
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class UserRow(Base):
    __tablename__ = 'users'
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(32))
    name_key: Mapped[str] = mapped_column(String(32), unique=True, index=True)  # lower-case: unique ignoring case
    password_hash: Mapped[str] = mapped_column(String(200))
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SessionRow(Base):
    __tablename__ = 'sessions'
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256: a leaked db holds no live token
    user_id: Mapped[int] = mapped_column(ForeignKey('users.id', ondelete='CASCADE'), index=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # when the session was last in use (a sign-in, a tab or program attaching, a tab connected); a database made
    # before it existed gets the column at start-up, empty, which counts as `created`
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


@dataclass(frozen=True)
class SessionInfo:
    """A session as the store has it: whose, since when, last in use when."""

    name: str
    created: datetime
    last_seen: datetime


class CallRow(Base):
    __tablename__ = 'calls'
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    caller: Mapped[str] = mapped_column(String(32), index=True)
    callee: Mapped[str] = mapped_column(String(32), index=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    answered: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)


class MessageRow(Base):
    """A message a caller left after a call of theirs that nobody answered (voicemail): its sound is a file of its
    own in the data dir (`file`, a name there), kept for the callee until they delete it."""

    __tablename__ = 'messages'
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(40), unique=True)  # one message per unanswered call
    caller: Mapped[str] = mapped_column(String(32))
    callee: Mapped[str] = mapped_column(String(32), index=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_s: Mapped[float] = mapped_column(Float)
    size: Mapped[int] = mapped_column(Integer)  # bytes on disk
    file: Mapped[str] = mapped_column(String(80))


class CallMemberRow(Base):
    """Each person of a group call (two people's calls need none: their row says it all), written when the call
    ends: when they were invited and by whom, joined, left and why. `seq` orders them as they came; someone added
    again after leaving has a row per stint."""

    __tablename__ = 'call_members'
    call_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    user: Mapped[str] = mapped_column(String(32), index=True)
    invited_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    invited_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reason: Mapped[str | None] = mapped_column(String(32), nullable=True)


@dataclass(frozen=True)
class MemberRecord:
    """One stint of one person in a group call, as the call manager hands it to the history."""

    user: str
    invited_by: str | None
    invited_at: datetime | None
    joined_at: datetime | None
    left_at: datetime | None
    reason: str | None


class UserStateRow(Base):
    """What a user chose and saw, whichever browser they use: do not disturb, and when they last saw their missed
    calls (a table of its own, so an existing database gets it at start-up without a migration)."""

    __tablename__ = 'user_state'
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    do_not_disturb: Mapped[bool] = mapped_column(Boolean, default=False)
    missed_seen: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # set when an account of this name was removed: an account made with the name later starts with no history
    history_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


def _like_prefix(text: str) -> str:
    """A LIKE pattern matching names that start with `text` (its own % and _ taken literally)."""
    return text.replace('\\', '\\\\').replace('%', '\\%').replace('_', '\\_') + '%'


def _sqlite_for_several_processes(connection: Any, _: Any) -> None:
    """Readers never wait for a writer (WAL), and a writer waits a while for another instead of failing: several
    app processes may share one SQLite file."""
    cursor = connection.cursor()
    cursor.execute('PRAGMA journal_mode=WAL')
    cursor.execute('PRAGMA busy_timeout=5000')
    cursor.close()


def _add_missing_columns(connection: Connection) -> None:
    """Columns a table gained after a database was made (create_all only makes missing tables): each is added,
    nullable and empty, so an existing database keeps working without a migration tool."""
    inspector = inspect(connection)
    for table in Base.metadata.sorted_tables:
        present = {column['name'] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present:
                assert column.nullable, f'{table.name}.{column.name}: a column added later must be nullable'
                kind = column.type.compile(connection.dialect)
                connection.execute(text(f'ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}'))


def _made_meanwhile(error: OperationalError) -> bool:
    """Another process starting at the same moment made the table or column first."""
    return 'already exists' in str(error) or 'duplicate column' in str(error)


def unavailable(error: BaseException) -> bool:
    """Whether the database refused for now (locked beyond the busy timeout, disk full, an I/O error, a server
    that went away), so the same statement may succeed later; anything else is a mistake in the statement."""
    if isinstance(error, OperationalError):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _chunks(items: Collection[str], size: int = 500) -> Iterator[list[str]]:
    """Bound the parameters of one `IN (…)` (SQLite allows some thousands)."""
    listed = list(items)
    for start in range(0, len(listed), size):
        yield listed[start : start + size]


class Store:
    def __init__(self, database_url: str) -> None:
        self.engine: AsyncEngine = create_async_engine(database_url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        if self.engine.dialect.name == 'sqlite':
            event.listen(self.engine.sync_engine, 'connect', _sqlite_for_several_processes)

    async def create_schema(self) -> None:
        """Create the tables and columns that are missing. Processes started together on a fresh database race to
        create them: the loser's check-then-create finds a table made meanwhile, and simply checks again."""
        for attempt in range(3):
            try:
                async with self.engine.begin() as connection:
                    await connection.run_sync(Base.metadata.create_all)
                    await connection.run_sync(_add_missing_columns)
                return
            except OperationalError as error:
                if not _made_meanwhile(error) or attempt == 2:
                    raise

    async def close(self) -> None:
        await self.engine.dispose()

    # users and sign-in sessions

    async def find_user(self, name: str) -> UserRow | None:
        async with self.sessions() as db:
            return await db.scalar(select(UserRow).where(UserRow.name_key == name.lower()))

    async def add_user(self, name: str, password_hash: str) -> UserRow:
        async with self.sessions() as db, db.begin():
            row = UserRow(name=name, name_key=name.lower(), password_hash=password_hash)
            db.add(row)
        return row

    async def add_session(self, token: str, user_id: int, now: datetime, keep: int) -> None:
        """A new session of the user; of the others only the newest `keep - 1` stay (the oldest end)."""
        new = hash_token(token)
        others = (SessionRow.user_id == user_id, SessionRow.token_hash != new)
        newest = select(SessionRow.token_hash).where(*others).order_by(SessionRow.created.desc()).limit(keep - 1)
        async with self.sessions() as db, db.begin():
            db.add(SessionRow(token_hash=new, user_id=user_id, created=now, last_seen=now))
            await db.flush()
            await db.execute(delete(SessionRow).where(*others, SessionRow.token_hash.not_in(newest)))

    async def session_of(self, token: str) -> SessionInfo | None:
        return (await self.sessions_by_hash([hash_token(token)])).get(hash_token(token))

    async def sessions_by_hash(self, token_hashes: Collection[str]) -> dict[str, SessionInfo]:
        """The sessions among these (sha256 of their tokens) that exist, by hash: one query per 100 (the event loop
        gets its turn between them: reading a row costs tens of microseconds there)."""
        found: dict[str, SessionInfo] = {}
        async with self.sessions() as db:
            for chunk in _chunks(token_hashes, 100):
                query = (
                    select(SessionRow.token_hash, UserRow.name, SessionRow.created, SessionRow.last_seen)
                    .join(UserRow, UserRow.id == SessionRow.user_id)
                    .where(SessionRow.token_hash.in_(chunk))
                )
                for token_hash, name, created, last_seen in (await db.execute(query)).all():
                    found[token_hash] = SessionInfo(name, created, last_seen or created)
        return found

    async def touch_sessions(self, token_hashes: Collection[str], now: datetime) -> None:
        """These sessions are in use now."""
        async with self.sessions() as db, db.begin():
            for chunk in _chunks(token_hashes):
                await db.execute(update(SessionRow).where(SessionRow.token_hash.in_(chunk)).values(last_seen=now))

    async def delete_sessions(self, token_hashes: Collection[str]) -> None:
        async with self.sessions() as db, db.begin():
            for chunk in _chunks(token_hashes):
                await db.execute(delete(SessionRow).where(SessionRow.token_hash.in_(chunk)))

    async def delete_session(self, token: str) -> None:
        await self.delete_sessions([hash_token(token)])

    async def delete_sessions_older_than(self, created_before: datetime, seen_before: datetime) -> int:
        """Sessions made before `created_before` or last in use before `seen_before` end; returns how many."""
        last_in_use = func.coalesce(SessionRow.last_seen, SessionRow.created)
        stale = or_(SessionRow.created < created_before, last_in_use < seen_before)
        async with self.sessions() as db, db.begin():
            done = await db.execute(delete(SessionRow).where(stale))
            return int(cast(CursorResult[Any], done).rowcount or 0)

    async def list_users(self) -> list[UserRow]:
        async with self.sessions() as db:
            return list((await db.scalars(select(UserRow).order_by(UserRow.name_key))).all())

    async def set_password_hash(self, user_id: int, password_hash: str) -> None:
        """A new password; every session of the user ends with it (a changed password locks out whoever had one)."""
        async with self.sessions() as db, db.begin():
            await db.execute(update(UserRow).where(UserRow.id == user_id).values(password_hash=password_hash))
            await db.execute(delete(SessionRow).where(SessionRow.user_id == user_id))

    async def remove_user(self, user_id: int, now: datetime) -> None:
        """The account and its sessions go, and what it chose (do not disturb, missed calls seen); its calls stay in
        the history of the people it called, but an account made with the name later sees only calls after `now`."""
        async with self.sessions() as db, db.begin():
            user = await db.get(UserRow, user_id)
            if user is None:
                return
            await db.execute(delete(SessionRow).where(SessionRow.user_id == user_id))
            await db.execute(delete(UserStateRow).where(func.lower(UserStateRow.name) == user.name_key))
            db.add(UserStateRow(name=user.name, do_not_disturb=False, history_since=now))
            await db.delete(user)

    async def find_users(self, prefix: str, limit: int) -> list[str]:
        """Names starting with `prefix` (ignoring case), in order."""
        query = select(UserRow.name).where(UserRow.name_key.like(_like_prefix(prefix.lower()), escape='\\'))
        async with self.sessions() as db:
            return list((await db.scalars(query.order_by(UserRow.name_key).limit(limit))).all())

    async def user_state(self, name: str) -> UserStateRow:
        async with self.sessions() as db:
            return await db.get(UserStateRow, name) or UserStateRow(name=name, do_not_disturb=False)

    async def set_user_state(self, name: str, **values: Any) -> None:
        try:
            await self._set_user_state(name, values)
        except IntegrityError:  # two first writes at once (two tabs, a script): the other one made the row
            await self._set_user_state(name, values)

    async def _set_user_state(self, name: str, values: dict[str, Any]) -> None:
        async with self.sessions() as db, db.begin():
            row = await db.get(UserStateRow, name)
            if row is None:
                db.add(UserStateRow(name=name, **{'do_not_disturb': False, **values}))
            else:
                for key, value in values.items():
                    setattr(row, key, value)

    # calls

    # calls: `since` (an earlier account of the name was removed then) leaves out the calls made before it

    async def recent_calls(
        self, user: str, limit: int, before: datetime | None = None, since: datetime | None = None
    ) -> list[CallRow]:
        """The user's finished calls (group calls they were added to included), newest first; `before` (a call's
        start) for the next page."""
        added = CallRow.id.in_(select(CallMemberRow.call_id).where(CallMemberRow.user == user))
        query = select(CallRow).where(or_(CallRow.caller == user, CallRow.callee == user, added))
        query = query.where(CallRow.ended.is_not(None))
        if before is not None:
            query = query.where(CallRow.created < before)
        if since is not None:
            query = query.where(CallRow.created > since)
        async with self.sessions() as db:
            return list((await db.scalars(query.order_by(CallRow.created.desc()).limit(limit))).all())

    async def count_missed(
        self, user: str, reasons: list[str], seen: datetime | None, since: datetime | None = None
    ) -> int:
        """Calls to `user` that ended unanswered after `seen`, or that the caller left a message after since then
        (each call once)."""
        query = (
            select(func.count())
            .select_from(CallRow)
            .where(CallRow.callee == user, CallRow.answered.is_(None), CallRow.end_reason.in_(reasons))
        )
        if seen is not None:
            message_since = exists().where(MessageRow.call_id == CallRow.id, MessageRow.created > seen)
            query = query.where(or_(CallRow.ended > seen, message_since))
        if since is not None:
            query = query.where(CallRow.created > since)
        async with self.sessions() as db:
            return int(await db.scalar(query) or 0)

    async def contacts(self, user: str, limit: int, since: datetime | None = None) -> list[str]:
        """Everyone the user called or was called by, in order of name."""
        after = CallRow.created > since if since is not None else true()
        peers = union(
            select(CallRow.callee.label('name')).where(CallRow.caller == user, after),
            select(CallRow.caller.label('name')).where(CallRow.callee == user, after),
        ).subquery()
        async with self.sessions() as db:
            return list((await db.scalars(select(peers.c.name).order_by(func.lower(peers.c.name)).limit(limit))).all())

    # With several processes, a call may be written by the one that placed it and finished by another, in either
    # order: each write carries what it knows and never undoes a later one (no dialect-specific upserts, so the
    # store stays a URL change away from PostgreSQL).

    async def add_call(self, call_id: str, caller: str, callee: str, created: datetime) -> None:
        try:
            async with self.sessions() as db, db.begin():
                db.add(CallRow(id=call_id, caller=caller, callee=callee, created=created))
        except IntegrityError:
            pass  # the process that ended the call wrote its whole row first

    async def answer_call(self, call_id: str, answered: datetime | None) -> None:
        async with self.sessions() as db, db.begin():
            await db.execute(
                update(CallRow).where(CallRow.id == call_id, CallRow.ended.is_(None)).values(answered=answered)
            )

    async def finish_call(
        self,
        call_id: str,
        caller: str,
        callee: str,
        created: datetime,
        answered: datetime | None,
        ended: datetime,
        reason: str,
        members: Collection[MemberRecord] = (),
    ) -> None:
        duration = (ended - answered).total_seconds() if answered else None
        final = {'answered': answered, 'ended': ended, 'duration_s': duration, 'end_reason': reason}
        async with self.sessions() as db, db.begin():
            done = await db.execute(update(CallRow).where(CallRow.id == call_id).values(**final))
            if cast(CursorResult[Any], done).rowcount == 0:  # ended before the row of its start was written
                db.add(CallRow(id=call_id, caller=caller, callee=callee, created=created, **final))
            if members:  # written again (a retry after an outage) it is the same rows
                await db.execute(delete(CallMemberRow).where(CallMemberRow.call_id == call_id))
                db.add_all(
                    CallMemberRow(call_id=call_id, seq=seq, **vars(member)) for seq, member in enumerate(members)
                )

    async def members_of(self, call_ids: Collection[str]) -> dict[str, list[CallMemberRow]]:
        """The people of these calls that were group calls, in the order they came."""
        found: dict[str, list[CallMemberRow]] = {}
        async with self.sessions() as db:
            for chunk in _chunks(call_ids):
                query = select(CallMemberRow).where(CallMemberRow.call_id.in_(chunk))
                for row in (await db.scalars(query.order_by(CallMemberRow.call_id, CallMemberRow.seq))).all():
                    found.setdefault(row.call_id, []).append(row)
        return found

    async def get_call(self, call_id: str) -> CallRow | None:
        async with self.sessions() as db:
            return await db.get(CallRow, call_id)

    async def close_open_calls(
        self, reason: str, still_live: Callable[[list[str]], Awaitable[set[str]]] | None = None
    ) -> int:
        """Calls left open by a crash get their final reason at the next start (and a duration if answered);
        those `still_live` says other processes carry on are left open."""
        now = utcnow()
        async with self.sessions() as db, db.begin():
            open_calls = list((await db.scalars(select(CallRow).where(CallRow.ended.is_(None)))).all())
            if still_live is not None:
                live = await still_live([row.id for row in open_calls])
                open_calls = [row for row in open_calls if row.id not in live]
            for row in open_calls:
                row.ended, row.end_reason = now, reason
                if row.answered is not None:
                    row.duration_s = (now - row.answered).total_seconds()
            return len(open_calls)

    # messages (voicemail)

    async def add_message(self, row: MessageRow) -> None:
        async with self.sessions() as db, db.begin():
            db.add(row)

    async def get_message(self, message_id: str) -> MessageRow | None:
        async with self.sessions() as db:
            return await db.get(MessageRow, message_id)

    async def message_of_call(self, call_id: str) -> MessageRow | None:
        async with self.sessions() as db:
            return await db.scalar(select(MessageRow).where(MessageRow.call_id == call_id))

    async def messages_of_calls(self, call_ids: Collection[str]) -> dict[str, MessageRow]:
        """The messages left after these calls, by call id."""
        found: dict[str, MessageRow] = {}
        async with self.sessions() as db:
            for chunk in _chunks(call_ids):
                for row in (await db.scalars(select(MessageRow).where(MessageRow.call_id.in_(chunk)))).all():
                    found[row.call_id] = row
        return found

    async def mailbox_usage(self, callee: str) -> tuple[int, int]:
        """How many messages `callee` has, and their bytes."""
        query = select(func.count(), func.coalesce(func.sum(MessageRow.size), 0)).where(MessageRow.callee == callee)
        async with self.sessions() as db:
            count, size = (await db.execute(query)).one()
        return int(count), int(size)

    async def delete_message(self, message_id: str) -> None:
        async with self.sessions() as db, db.begin():
            await db.execute(delete(MessageRow).where(MessageRow.id == message_id))
