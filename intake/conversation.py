"""Runs the engine for one inbound step and carries out the events that are not replies.

Redis is the normal home of sessions, opt-outs and the job queues, but a step never needs it:
when Redis does not answer, the session comes from the copy the request carried (the voice
URL, the SMS cookie: see web/carry.py), and tasks and opt-outs go to the local spool, replayed
into Redis exactly once when it is back (docs/reliability.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import LockError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Retry

from . import metrics, tallies
from .flow import engine
from .flow import events as ev
from .flow.engine import Flow, Reading, Session, Trigger, UserInput
from .flow.model import Medium, flow_channel
from .flow.text import for_channel, parse_phone
from .queues import DEFAULT_FAILURE_TTL, JobQueue
from .spool import Drainer, Record, Spool
from .store import DEFAULT_QUEUE, URGENT_QUEUE, Begun, Store, mask
from .tasks import Task, new_task_id, task_from_request

log = logging.getLogger(__name__)

CREATE_TASK_JOB = "workers.jobs.create_task"  # by name: the web layer never imports workers
TASK_RETRY = Retry(max=5, interval=[2, 10, 30, 60, 120])
# Redis is away (refused, unreachable, still loading its data), as opposed to a busy lock.
OUTAGE = (RedisConnectionError, RedisTimeoutError)

T = TypeVar("T")


@dataclass
class Step:
    """The result of one inbound message or key press."""

    session: Session | None
    events: list[ev.Event]
    duplicate: bool = False
    limited: bool = False  # over the inbound limit: not processed

    @property
    def ended(self) -> bool:
        return any(isinstance(e, ev.SessionEnded) for e in self.events)


class Link:
    """Whether Redis answered during this step: after one failure the step stops asking it,
    so a Redis that hangs costs one timeout, not one per call."""

    def __init__(self, up: bool = True) -> None:
        self.up = up

    def call(self, fn: Callable[[], T], default: T) -> T:
        if not self.up:
            return default
        try:
            return fn()
        except OUTAGE as e:
            self.down(e)
            return default

    def down(self, error: Exception) -> None:
        if self.up:
            log.warning("redis unreachable (%s): going on without it", type(error).__name__)
        self.up = False


def newest(stored: Session | None, carried: Session | None) -> Session | None:
    """The later of Redis's copy and the one the request carried; Redis's on a tie."""
    if carried is None:
        return stored
    if stored is None or carried.updated_at > stored.updated_at:
        return carried
    return stored


class Conversations:
    """One place that loads, moves on and saves sessions, and queues staff tasks."""

    def __init__(
        self,
        flow: Flow,
        store: Store,
        redis: Redis,
        tz: ZoneInfo,
        spool: Spool,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        inbound_limit: int = 0,
        failure_ttl: int = DEFAULT_FAILURE_TTL,
    ) -> None:
        self.flow = flow
        self.failure_ttl = failure_ttl  # seconds RQ keeps a failed job
        self.store = store
        self.redis = redis
        self.clock = clock
        self.tz = tz
        self.inbound_limit = inbound_limit  # messages per sender per minute; 0: no limit
        self.spool = spool
        self.drainer = Drainer(spool, self.replay)
        if spool.pending():  # left from before a restart
            self.drainer.kick()

    def step(
        self,
        channel: Medium,
        key: str,
        contact: str,
        inp: UserInput | None,
        delivery_id: str = "",
        language: str | None = None,
        carried: Session | None = None,
        fresh: bool = False,
        sender: str = "",
    ) -> Step:
        """Handle one input from the person behind `key` (their number, or a CallSid).

        `carried`: the session copy the request brought, used when Redis has nothing newer.
        `fresh`: start the conversation over (a call just arrived).
        `sender`: who this input counts against the inbound limit ("" for nobody).
        """
        link = Link()
        counted = sender if self.inbound_limit else ""
        # Round trip 1 (a Lua script): the person's lock, then under it the dedupe mark, the
        # sender's count, session, opt-out and returning flag. Without Redis: no lock, nothing
        # counted (recent 0): nobody is refused for an outage.
        begun = link.call(
            lambda: self.store.begin_step(channel, key, contact, delivery_id, counted, lock=True),
            Begun(True, None, False, 0),
        )
        now = self.clock()
        # The person wrote on WhatsApp: that opens (or extends) its 24-hour window for
        # free-form messages. Noted in round trip 2, or on its own if the step ends early.
        window = channel == "whatsapp" and bool(contact)
        try:
            before = None if fresh else newest(begun.session, carried)
            if not begun.first:  # the script left the lock free: nothing to do under it
                log.info("%s %s: repeated delivery, not processed again", channel, mask(contact))
                if channel == "voice" and (fresh or carried is not None):
                    # Twilio asked again for a step it had: the same answer, and nothing done.
                    # From the copy the request carried: Redis may hold the step's result by now.
                    repeated = None if fresh else carried
                    session, events = self._advance(
                        channel, key, contact, inp, repeated, now, Link(up=False)
                    )
                    return Step(session=session, events=events, duplicate=True)
                return Step(session=None, events=[], duplicate=True)
            if channel != "voice" and begun.opted_out:  # opted out of this channel's texts
                reading = engine.read(self.flow, inp.text) if inp else None  # read once
                if reading is None or not engine.opts_in(self.flow, reading):
                    self._silent_crisis_check(before, channel, contact, reading, now, link)
                    return Step(session=before, events=[])
            if self.inbound_limit and begun.recent > self.inbound_limit:
                limited = self._over_limit(channel, contact, before, inp, begun.recent)
                if limited is not None:
                    return limited
            session, events = self._advance(
                channel, key, contact, inp, before, now, link, language, begun.returning
            )
            # Round trip 2 (MULTI/EXEC): what the step queues, the session and the lock's release.
            wrote = contact if window else ""
            self._finish(channel, key, begun, session, events, now, link, before, wrote)
            begun, window = begun._replace(lock=None), False
        finally:
            if window and begun.first:  # left early (opted out, over the limit, failed)
                link.call(lambda: self.store.note_inbound(channel, contact, now), None)
            if begun.lock:  # left early, or failed: free the lock (it would expire in 30 s)
                link.call(lambda: self.store.release(channel, begun), None)
        log.info(
            "%s %s: %s",
            channel,
            mask(contact),
            ",".join(e.type for e in events) or "no events",
        )
        return Step(session=session, events=events)

    def _over_limit(
        self,
        channel: Medium,
        contact: str,
        session: Session | None,
        inp: UserInput | None,
        recent: int,
    ) -> Step | None:
        """Past the inbound limit: one polite answer, then silence for the minute.

        Crisis words always pass (None: carry on as usual), so they are read first.
        """
        language = session.language if session else self.flow.spec.languages[0]
        said = (inp.text or inp.speech) if inp else ""
        if said and engine.read(self.flow, said, language).crisis is not None:
            return None
        if recent > self.inbound_limit + 1:
            return Step(session=session, events=[], limited=True)
        log.warning("%s %s: over the inbound limit; quiet for the minute", channel, mask(contact))
        texts = self.flow.spec.messages["rate_limited"][flow_channel(channel)]
        text = engine.render(
            texts.get(language) or texts[self.flow.spec.languages[0]], self.flow.params
        )
        events: list[ev.Event] = (
            [ev.MessageSent(for_channel(text, channel))]
            if channel != "voice"
            else [ev.PromptSpoken(text), ev.SessionEnded()]
        )
        return Step(session=session, events=events, limited=True)

    def _advance(
        self,
        channel: Medium,
        key: str,
        contact: str,
        inp: UserInput | None,
        session: Session | None,
        now: datetime,
        link: Link,
        language: str | None = None,
        returning: bool = False,
    ) -> tuple[Session, list[ev.Event]]:
        """The engine's step: start a conversation or move it on. No side effects.

        `returning`: we talked with this person before (read with the step's first round trip).
        """
        if session is None:
            trigger = Trigger(
                channel=channel,
                contact=contact,
                now=now,
                language=language,
                returning=returning,
            )
            return engine.start(self.flow, trigger, inp)
        moved, events = engine.resume(self.flow, session, inp or UserInput(), now)
        log.debug("%s %s: %s -> %s", channel, mask(contact), session.state, moved.state)
        return moved, events

    def signal(
        self,
        channel: Medium,
        key: str,
        name: str,
        carried: Session | None = None,
        delivery_id: str = "",
    ) -> Step:
        """Report something the host saw (a transfer that could not happen) to the session.

        `delivery_id`: processed once per id; a repeat gets the same answer from the copy it
        carried and changes nothing (a replay must not rewind a call that moved on, nor bring
        back one that ended).
        """
        link = Link()
        with self._serialised(channel, key, link):
            if delivery_id:
                contact = carried.contact if carried else ""
                first, stored = link.call(
                    lambda: self.store.begin_step(channel, key, contact, delivery_id),
                    Begun(True, None, False, 0),
                )[:2]
                if not first:
                    log.info("%s %s: repeated signal, not processed again", channel, mask(contact))
                    if carried is None:
                        return Step(session=None, events=[], duplicate=True)
                    return self.preview_signal(carried, name)
            else:
                stored = link.call(lambda: self.store.load_session(channel, key), None)
            before = newest(stored, carried)
            if before is None:
                return Step(session=None, events=[])
            now = self.clock()
            session, events = engine.signal(self.flow, before, name, now)
            self.carry_out(session, events, now, link, key=key, before=before)
            self._keep(key, session, events, link)
            self._tally(before, session, now, link)
        log.info(
            "%s %s: %s: %s",
            channel,
            mask(session.contact),
            name,
            ",".join(e.type for e in events) or "no events",
        )
        return Step(session=session, events=events)

    def preview_signal(self, session: Session, name: str) -> Step:
        """What `signal` would answer, without saving or doing anything (for repeats)."""
        moved, events = engine.signal(self.flow, session, name, self.clock())
        return Step(session=moved, events=events, duplicate=True)

    @contextmanager
    def _serialised(self, channel: Medium, key: str, link: Link) -> Iterator[None]:
        """One step at a time per person; without Redis, no lock (and no way to need one)."""
        lock = self.store.lock(channel, key)
        acquired = link.call(lock.acquire, None)
        if acquired is False:
            raise LockError(f"{channel} lock still held after waiting")
        try:
            yield
        finally:
            if acquired:
                try:
                    lock.release()
                except (LockError, *OUTAGE):
                    pass  # it expires on its own (30 s)

    def _tally(self, before: Session | None, session: Session, now: datetime, link: Link) -> None:
        """The reports' counts: only on a conversation's first step and on entering the callback
        details, so most steps write nothing more."""
        found = tallies.stepped(
            before.state if before else None, session.state, session.channel, session.language, now
        )
        if found:
            link.call(lambda: self.store.add_tallies(found), None)

    def _keep(self, key: str, session: Session, events: list[ev.Event], link: Link) -> None:
        if any(isinstance(e, ev.SessionEnded) for e in events):
            link.call(lambda: self.store.delete_session(session.channel, key), None)
        else:
            link.call(lambda: self.store.save_session(key, session), None)

    def _finish(
        self,
        channel: Medium,
        key: str,
        begun: Begun,
        session: Session,
        events: list[ev.Event],
        now: datetime,
        link: Link,
        before: Session | None,
        wrote: str = "",
    ) -> None:
        """The step's effects in one MULTI: opt-outs, tasks, the session, the lock's release,
        and when `wrote` (a WhatsApp number) the time it wrote.

        When Redis does not answer, tasks and opt-outs go to the spool, as in carry_out.
        """
        effects = self._effects(session, events, now, key, before)
        ended = any(isinstance(e, ev.SessionEnded) for e in events)
        # The reports' counts: only a conversation's first step and entering the callback
        # details count, so most steps add nothing to the transaction.
        counted = tallies.stepped(
            before.state if before else None, session.state, session.channel, session.language, now
        )
        if link.up:
            try:
                with self.redis.pipeline() as pipe:
                    pipe.multi()  # RQ starts one unless the pipeline is in a MULTI already
                    for kind, what in effects:
                        if isinstance(what, Task):
                            self._enqueue(what, pipe)
                        else:
                            opting_out = kind == "opt_out"
                            self.store.record_opt_out(pipe, what, opting_out, session.channel)
                    if counted:
                        self.store.add_tallies(counted, pipe)
                    if wrote:
                        self.store.note_inbound(channel, wrote, now, pipe)
                    self.store.end_step(pipe, channel, begun, session, ended)
                    pipe.execute()
            except OUTAGE as e:
                link.down(e)
            else:
                for _, what in effects:
                    if isinstance(what, Task):
                        self._queued(what)
                return
        for kind, what in effects:  # the transaction did not happen: none of it was applied
            if isinstance(what, Task):
                self._spool_task(what)
            else:
                self._spool(kind, {"number": what, "channel": session.channel})

    def _effects(
        self,
        session: Session,
        events: list[ev.Event],
        now: datetime,
        key: str = "",
        before: Session | None = None,
    ) -> list[tuple[str, Task | str]]:
        """What the events ask of Redis besides the session: ("opt_out" | "opt_in", number)
        and ("task", Task)."""
        effects: list[tuple[str, Task | str]] = []
        for event in events:
            if isinstance(event, (ev.OptedOut, ev.OptedIn)) and session.contact:
                kind = "opt_out" if isinstance(event, ev.OptedOut) else "opt_in"
                effects.append((kind, session.contact))
            elif isinstance(event, ev.CrisisDetected):
                # One urgent task per conversation, however many crisis messages.
                seed = (
                    f"crisis:{session.channel}:{session.contact}:{session.started_at.isoformat()}"
                )
                effects.append(("task", self._task(event.request, new_task_id(seed), now)))
            elif isinstance(event, ev.CallbackRequested):
                # Derived from the step it came from, so a replayed step makes the same task.
                step_at = (before or session).updated_at.isoformat()
                seed = f"callback:{session.channel}:{key or session.contact}:{step_at}"
                effects.append(("task", self._task(event.request, new_task_id(seed), now)))
        return effects

    def carry_out(
        self,
        session: Session,
        events: list[ev.Event],
        now: datetime,
        link: Link | None = None,
        key: str = "",
        before: Session | None = None,
    ) -> None:
        """Opt-outs and tasks; replies are the transport's business."""
        link = link or Link()
        for kind, what in self._effects(session, events, now, key, before):
            if isinstance(what, Task):
                self._queue_task(what, link)
            else:
                self._opt(what, kind == "opt_out", link, session.channel)

    def _opt(self, number: str, out: bool, link: Link, channel: str = "sms") -> None:
        """Opt `number` out of (or back into) texts on `channel` only: STOP on WhatsApp
        leaves SMS as it was, and the other way round."""
        change = self.store.opt_out if out else self.store.opt_in
        if link.up:
            try:
                change(number, channel)
                return
            except OUTAGE as e:
                link.down(e)
        self._spool("opt_out" if out else "opt_in", {"number": number, "channel": channel})

    def _task(self, request: ev.CallbackRequest, task_id: str, now: datetime) -> Task:
        if request.callback_number and not parse_phone(request.callback_number):
            # A sender such as "client:alice" or "anonymous" is no number staff can call.
            request = replace(request, callback_number=None)
        return task_from_request(request, task_id, now, self.tz)

    def enqueue_task(
        self, request: ev.CallbackRequest, task_id: str, now: datetime, link: Link | None = None
    ) -> None:
        """Queue the task's creation; into the spool when Redis does not answer."""
        self._queue_task(self._task(request, task_id, now), link or Link())

    def _queue_task(self, task: Task, link: Link) -> None:
        if link.up:
            try:
                self._enqueue(task)
                self._queued(task)
                return
            except OUTAGE as e:
                link.down(e)
        self._spool_task(task)

    def _queued(self, task: Task) -> None:
        metrics.task_queued(task)
        log.info("queued %s task %s (%s)", task.kind, task.id, task.priority)

    def _spool_task(self, task: Task) -> None:
        self._spool("task", {"task": task.model_dump(mode="json")})
        log.warning("spooled %s task %s (%s)", task.kind, task.id, task.priority)

    def _enqueue(self, task: Task, pipeline: Any = None) -> None:
        """Stage the task (sealed) and queue the job that stores it, in one MULTI: the job
        carries only the task's id."""
        if pipeline is None:
            with self.redis.pipeline() as pipe:
                pipe.multi()  # RQ starts one unless the pipeline is in a MULTI already
                self._enqueue(task, pipe)
                pipe.execute()
            return
        queue_name = URGENT_QUEUE if task.priority == "urgent" else DEFAULT_QUEUE
        self.store.stage_task(task, pipeline)
        JobQueue(queue_name, self.redis, failure_ttl=self.failure_ttl).enqueue(
            CREATE_TASK_JOB,
            task.id,
            job_id=f"create-task-{task.id}",
            retry=TASK_RETRY,
            description=f"create {task.kind} task {task.id}",
            pipeline=pipeline,
        )

    def _spool(self, kind: str, payload: dict[str, Any]) -> None:
        self.spool.append(kind, payload)  # raises if even the disk refuses: the person is told
        self.drainer.kick()

    def replay(self, record: Record) -> None:
        """Apply one spooled record to Redis, once (a replay after a crash skips it)."""
        if record.kind == "task":
            task = Task.model_validate(record.payload["task"])
            if self.store.replay_once(record.id, lambda pipe: self._enqueue(task, pipe)):
                metrics.task_queued(task)
                log.info("replayed %s task %s from the spool", task.kind, task.id)
        elif record.kind in ("opt_out", "opt_in"):
            number = record.payload["number"]
            channel = record.payload.get("channel", "sms")  # records spooled before WhatsApp
            out = record.kind == "opt_out"
            self.store.replay_once(
                record.id, lambda p: self.store.record_opt_out(p, number, out, channel)
            )
        else:
            log.error("spool record of unknown kind %r skipped", record.kind)

    def _silent_crisis_check(
        self,
        session: Session | None,
        channel: Medium,
        contact: str,
        reading: Reading | None,
        now: datetime,
        link: Link,
    ) -> None:
        """An opted-out person gets no reply, but crisis language still reaches staff."""
        found = reading.crisis if reading is not None else None
        if found is None:
            return
        base = session or Session(
            flow=self.flow.id,
            channel=channel,
            language=self.flow.spec.languages[0],
            contact=contact,
            state=self.flow.spec.start,
            started_at=now,
            updated_at=now,
        )
        request = engine.callback_request(base, kind="crisis", category=found[0])
        seed = f"crisis:{channel}:{contact}:{base.started_at.isoformat()}"
        self.enqueue_task(request, new_task_id(seed), now, link)
        log.warning(
            "%s %s: crisis language from an opted-out number; urgent task, no reply",
            channel,
            mask(contact),
        )
