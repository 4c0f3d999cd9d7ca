"""The user's own training function, any framework, under every schedule x seed (Optuna-shaped).

>>> def train(trial):                                    # doctest: +SKIP
...     opt = torch.optim.SGD(net.parameters(), lr=0.1)
...     sched = trial.torch_scheduler(opt, steps_per_epoch=len(loader))
...     for epoch in range(trial.start_epoch, trial.epochs):
...         ...                                          # train one epoch, stepping sched
...         trial.report(epoch, val_loss=..., val_acc=...)   # stored at once
>>> result = run_trials(train, schedules={"cos": "cosine(0.1, 10)"}, seeds=3, epochs=10,
...                     store="runs/mine.sqlite")        # doctest: +SKIP

A *trial* is one run (schedule, seed) of ``train_fn``; its reports go into the same SQLite store,
with the same identity and ranking rules as :func:`schedlab.lab.compare`.  Finished trials are
never rerun.  An unfinished trial restarts from scratch, or -- when it saved a checkpoint with
:meth:`Trial.checkpoint` -- continues after the last reported epoch with ``trial.start_epoch``
and :meth:`Trial.restore`.  With ``workers > 1`` trials run in parallel worker processes (the
function travels with ``cloudpickle``); their reports come back to this process, the store's one
writer, as they happen.

Reported metrics: ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc`` fill the store's
columns; any other name is kept as the user's metric (prefix ``val_`` added unless the name has
one).  A non-finite loss marks the trial diverged (it may stop reporting then).
"""

from __future__ import annotations

import io
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import numpy as np

from schedlab.errors import ConfigError
from schedlab.lab.analysis.stats import check_sesoi, find_baseline, metric_direction, rank
from schedlab.lab.runs.store import DONE, EpochResult, RunStore
from schedlab.lab.runs.tracking import Recorder, Tracker
from schedlab.lab.sweeps.backends.shipping import ship, unship
from schedlab.lab.sweeps.compare import Comparison
from schedlab.lab.sweeps.plan import SweepPlan, make_plan
from schedlab.lab.sweeps.run import SweepOutcome, exclusive
from schedlab.lab.sweeps.settings import parse_schedules, parse_seeds
from schedlab.lab.train.config import UNITS, json_hash
from schedlab.lab.train.records import EpochRecord
from schedlab.schedules.plateau import Plateau, policy_from_spec
from schedlab.validate import is_int

__all__ = ["Trial", "TrialSetup", "run_trials"]

COLUMNS = ("train_loss", "train_acc", "val_loss", "val_acc")


def _qualname(fn: Any) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


@dataclass(frozen=True)
class TrialSetup:
    """The identity of a :func:`run_trials` sweep: the function, epochs, unit and the user's own
    ``config`` (anything JSON that changes what the function trains)."""

    function: str
    epochs: int
    unit: str = "epoch"
    config: Mapping[str, Any] | None = None
    dataset: str = "script"
    model: str = "script"

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": "script", "dataset": self.dataset, "model": self.model,
            "optimizer": "script", "function": self.function, "epochs": self.epochs,
            "unit": self.unit, "config": dict(self.config or {}),
        }  # fmt: skip

    def config_hash(self) -> str:
        return json_hash(self.to_dict())


class _Stop(Exception):
    """Raised inside the user's function when the sweep is being stopped."""


class Trial:
    """One run of the user's function: its schedule, seed, epochs, and where its reports go.

    Attributes:
        schedule: the run's :class:`~schedlab.Schedule` (or :class:`~schedlab.Plateau`).
        spec: its canonical text; ``label``: the label the sweep gave it.
        seed: seed the run with it (``torch.manual_seed(trial.seed)``, the data order, ...).
        epochs: epochs to train; ``start_epoch``: the first epoch to train now (0, or after the
            last reported epoch when resuming from :meth:`checkpoint`).
        unit: what the schedule's ``t`` counts (``"epoch"`` or ``"step"``).
    """

    def __init__(
        self,
        run_id: int,
        label: str,
        spec: str,
        seed: int,
        epochs: int,
        unit: str,
        start_epoch: int,
        state: bytes | None,
        send: Callable[[dict], None],
    ) -> None:
        self.run_id, self.label, self.spec, self.seed = run_id, label, spec, seed
        self.epochs, self.unit, self.start_epoch = epochs, unit, start_epoch
        self.schedule = policy_from_spec(spec)
        self._state, self._send = state, send
        self._next = start_epoch
        self._pending_state: bytes | None = None
        self._steps_per_epoch: int | None = None
        self._started = time.perf_counter()
        self.diverged = False

    def __repr__(self) -> str:
        return f"Trial({self.label!r}, seed={self.seed}, schedule={self.spec!r})"

    # -- framework schedules ---------------------------------------------------------------
    def _spe(self, steps_per_epoch: int | None) -> int | None:
        if steps_per_epoch is not None:
            if not (is_int(steps_per_epoch) and steps_per_epoch > 0):
                raise ConfigError(
                    f"trial: steps_per_epoch must be a positive integer; got {steps_per_epoch!r}"
                )
            self._steps_per_epoch = int(steps_per_epoch)
        return self._steps_per_epoch

    def _schedule(self) -> Any:
        if isinstance(self.schedule, Plateau):
            raise ConfigError(
                f"trial {self.label!r}: a plateau spec needs the metric; use "
                "trial.torch_scheduler(opt) and call sched.step(val_loss) after each epoch"
            )
        return self.schedule

    def torch_scheduler(self, optimizer: Any, *, steps_per_epoch: int | None = None) -> Any:
        """A :class:`~schedlab.adapters.torch.ScheduleLR` for ``optimizer``, to ``step()`` after
        every optimizer step (``steps_per_epoch`` needed when the unit is ``"epoch"``), resumed to
        ``start_epoch``; a :class:`~schedlab.adapters.torch.PlateauLR` for a plateau spec."""
        from schedlab.adapters.torch import PlateauLR, ScheduleLR

        spe = self._spe(steps_per_epoch)
        if isinstance(self.schedule, Plateau):
            return PlateauLR(optimizer, self.schedule)
        if self.unit == "epoch" and spe is None:
            raise ConfigError("trial.torch_scheduler: give steps_per_epoch (unit is 'epoch')")
        sched = ScheduleLR(
            optimizer, self.schedule, interval="step", unit=self.unit,
            steps_per_epoch=spe if self.unit == "epoch" else None,
        )  # fmt: skip
        if self.start_epoch and spe:
            sched.step(self.start_epoch * spe)
        return sched

    def keras_schedule(self, *, steps_per_epoch: int | None = None) -> Any:
        """A Keras ``LearningRateSchedule`` (:class:`~schedlab.adapters.keras.KerasSchedule`) to
        pass as an optimizer's ``learning_rate``."""
        from schedlab.adapters.keras import KerasSchedule

        spe = self._spe(steps_per_epoch)
        return KerasSchedule(self._schedule(), steps_per_epoch=spe, unit=self.unit)

    def optax_schedule(self, *, steps_per_epoch: int | None = None) -> Any:
        """An optax schedule (``count -> lr``, jit-traceable)."""
        from schedlab.adapters.optax import to_optax

        spe = self._spe(steps_per_epoch)
        return to_optax(self._schedule(), steps_per_epoch=spe, unit=self.unit)

    # -- reports ---------------------------------------------------------------------------
    def checkpoint(self, state: Any) -> None:
        """Keep ``state`` (anything ``torch.save`` or ``pickle`` can write) with the next
        report, so a rerun continues after it (see :meth:`restore`)."""
        try:
            import torch

            buf = io.BytesIO()
            torch.save(state, buf)
            self._pending_state = buf.getvalue()
        except ImportError:  # pragma: no cover - torch is part of the lab extra
            import pickle

            self._pending_state = pickle.dumps(state)

    def restore(self) -> Any:
        """The state saved with the last stored report (``None`` when starting from scratch)."""
        if self._state is None:
            return None
        import torch

        return torch.load(io.BytesIO(self._state), map_location="cpu", weights_only=False)

    def _rates(self, epoch: int) -> np.ndarray:
        if isinstance(self.schedule, Plateau):
            return np.array([self.schedule.lr])
        spe = self._steps_per_epoch or 1
        if self.unit == "epoch":
            return np.full(spe, self.schedule(epoch), dtype=np.float64)
        return np.asarray(self.schedule(np.arange(epoch * spe, (epoch + 1) * spe)), dtype=float)

    def report(self, epoch: int, **metrics: float) -> None:
        """Store epoch ``epoch``'s metrics now (epochs in order from ``start_epoch``)."""
        if epoch != self._next:
            raise ConfigError(
                f"trial {self.label!r} seed {self.seed}: report epochs in order; expected "
                f"epoch {self._next}, got {epoch!r}"
            )
        if epoch >= self.epochs:
            raise ConfigError(f"trial: epoch {epoch} is past the last one ({self.epochs - 1})")
        values: dict[str, float | None] = dict.fromkeys(COLUMNS)
        extra: dict[str, float] = {}
        for name, value in metrics.items():
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise ConfigError(f"trial.report: {name} must be a number; got {value!r}") from None
            if name in COLUMNS:
                values[name] = number
            else:
                extra[name if name.startswith("val_") else f"val_{name}"] = number
        for key in ("train_loss", "val_loss"):
            if values[key] is not None and not math.isfinite(values[key]):  # type: ignore[arg-type]
                self.diverged = True
        rates = self._rates(epoch)
        now = time.perf_counter()
        nan = math.nan
        record = EpochRecord(
            member=0, epoch=epoch,
            train_loss=nan if values["train_loss"] is None else values["train_loss"],
            train_acc=values["train_acc"],
            val_loss=nan if values["val_loss"] is None else values["val_loss"],
            val_acc=values["val_acc"], lr=float(rates[-1]), step_lrs=rates,
            diverged=self.diverged, seconds=now - self._started, extra=extra,
        )  # fmt: skip
        self._started = now
        self._send({"run_id": self.run_id, "record": record, "state": self._pending_state,
                    "done": epoch == self.epochs - 1})  # fmt: skip
        self._pending_state = None
        self._next = epoch + 1

    @property
    def finished(self) -> bool:
        """Whether every epoch has been reported."""
        return self._next >= self.epochs


# -- running the trials ----------------------------------------------------------------------
@dataclass(frozen=True)
class _Job:
    run_id: int
    label: str
    spec: str
    seed: int
    start: int
    state: bytes | None


def _commit(recorder: Recorder, message: dict) -> None:
    recorder.epoch([EpochResult(message["run_id"], message["record"], message["state"],
                                message["done"])])  # fmt: skip


def _run_job(fn: Callable, job: _Job, setup: TrialSetup, send: Callable[[dict], None]) -> str:
    """Run one trial; return ``"finished"`` or ``"diverged"`` (early stop after divergence) or
    raise :class:`ConfigError` if the function returned before its last epoch."""
    trial = Trial(job.run_id, job.label, job.spec, job.seed, setup.epochs, setup.unit,
                  job.start, job.state, send)  # fmt: skip
    fn(trial)
    if trial.finished:
        return "finished"
    if trial.diverged:
        return "diverged"
    raise ConfigError(
        f"trial {job.label!r} seed {job.seed}: the function returned after reporting "
        f"{trial._next} of {setup.epochs} epochs"
    )


_QUEUE: dict[str, Any] = {}


def _worker_init(blob: bytes, queue: Any) -> None:
    import cloudpickle

    _QUEUE["fn"], _QUEUE["queue"] = cloudpickle.loads(blob), queue


def _worker_job(job: _Job, setup: TrialSetup) -> str:
    return _run_job(_QUEUE["fn"], job, setup, _QUEUE["queue"].put)


def run_trials(
    train_fn: Callable[[Trial], Any],
    *,
    schedules: Sequence[Any] | Mapping[str, Any],
    seeds: int | Sequence[int] = 3,
    epochs: int,
    store: Any,
    name: str | None = None,
    unit: str = "epoch",
    config: Mapping[str, Any] | None = None,
    workers: int = 1,
    backend: str = "local",
    address: str | None = None,
    baseline: str | None = None,
    metric: str | None = None,
    tests: bool = False,
    sesoi: float | None = None,
    trackers: Sequence[Tracker] = (),
    progress: bool = True,
) -> Comparison:
    """Run ``train_fn(trial)`` for every schedule x seed not finished yet, then rank them.

    ``config``: JSON settings of your function that change what it trains (part of the runs'
    identity, like the fingerprint of :func:`schedlab.lab.compare`); ``workers``: trials at a
    time in worker processes (1: in this process); ``backend="ray"``: each trial is a Ray task on
    the cluster at ``address`` (default: a local one), ``workers`` of them at a time (default:
    one per cluster CPU); ``tests``, ``sesoi``: the decision-grade ranking, as in ``compare``.
    Returns the same result as ``compare``.
    """
    if unit not in UNITS:
        raise ConfigError(f"run_trials: unit must be one of {', '.join(UNITS)}; got {unit!r}")
    if not callable(train_fn):
        raise ConfigError(f"run_trials: train_fn must be a callable(trial); got {train_fn!r:.100}")
    if not (is_int(epochs) and epochs > 0):
        raise ConfigError(f"run_trials: epochs must be a positive integer; got {epochs!r}")
    if not (is_int(workers) and workers > 0):
        raise ConfigError(f"run_trials: workers must be a positive integer; got {workers!r}")
    if backend not in ("local", "ray"):
        raise ConfigError(f"run_trials: backend must be one of local, ray; got {backend!r}")
    setup = TrialSetup(_qualname(train_fn), int(epochs), unit, dict(config or {}),
                       model=getattr(train_fn, "__name__", "script"))  # fmt: skip
    try:
        json.dumps(setup.to_dict())
    except TypeError as err:
        raise ConfigError(
            f"run_trials: config must be JSON (numbers, strings, lists, dicts): {err}"
        ) from None
    plan = make_plan(setup, parse_schedules(schedules), parse_seeds(seeds), name)  # type: ignore[arg-type]
    find_baseline(baseline, dict(plan.schedules))
    if metric is not None:
        metric_direction(metric)  # its form before any work; whether it was reported, at the end
    check_sesoi(sesoi)
    with RunStore(store) as run_store:
        with exclusive(run_store):
            runner = _ray_runner(address, workers) if backend == "ray" else None
            outcome = _run(run_store, plan, setup, train_fn, int(workers), trackers, progress,
                           runner)  # fmt: skip
        ranking = rank(run_store, plan.name, baseline=baseline, metric=metric or "val_acc",
                       tests=tests, sesoi=sesoi)  # fmt: skip
    engine = "trials" if outcome.started or outcome.resumed else None
    return Comparison(run_store.path, plan, outcome, ranking, engine)


def _jobs(store: RunStore, plan: SweepPlan, ids: list[int]) -> list[_Job]:
    rows = {r.id: r for r in store.runs(plan.name, id=ids)}
    jobs = []
    for run_id in ids:
        row = rows[run_id]
        if row.status in DONE:
            continue
        ck = store.checkpoint(run_id)
        start, state = (ck[0], ck[1]) if ck and ck[0] == row.epochs_done else (0, None)
        jobs.append(_Job(run_id, row.label, row.schedule, row.seed, start, state))
    return jobs


def _run(
    store: RunStore,
    plan: SweepPlan,
    setup: TrialSetup,
    fn: Callable,
    workers: int,
    trackers: Sequence[Tracker],
    show: bool,
    runner: Callable | None = None,
) -> SweepOutcome:
    store.ensure_sweep(plan.name, plan.to_dict())
    ids = store.ensure_runs(plan.name, setup.to_dict(), setup.config_hash(), plan.runs())
    jobs = _jobs(store, plan, ids)
    resumed = sum(1 for j in jobs if j.start > 0)
    if not jobs:
        return SweepOutcome(plan.name, tuple(ids), len(ids), 0, 0, 0)
    recorder = Recorder(store, plan.name, trackers)
    total = sum(setup.epochs - j.start for j in jobs)
    done = [0]
    ticks: list[Callable[[int, int], None]] = []

    def send(message: dict) -> None:
        _commit(recorder, message)
        done[0] += 1
        for tick in ticks:
            tick(done[0], total)

    with ExitStack() as stack:
        if show:
            from schedlab.lab.sweeps.progress import progress

            ticks.append(stack.enter_context(progress(plan.name)))
        if runner is not None:
            runner(recorder, store, jobs, setup, fn, send)
        elif workers == 1:
            for job in jobs:
                _one(recorder, job, lambda job=job: _run_job(fn, job, setup, send), store)
        else:
            _parallel(recorder, store, jobs, setup, fn, workers, send)
    return SweepOutcome(plan.name, tuple(ids), len(ids) - len(jobs), resumed,
                        len(jobs) - resumed, done[0], ("trials",))  # fmt: skip


def _one(recorder: Recorder, job: _Job, call: Callable[[], str], store: RunStore) -> None:
    recorder.start([job.run_id], job.start)
    status: str | None = "interrupted"
    try:
        if call() == "diverged":  # stopped early after a non-finite loss
            store.mark([job.run_id], "diverged")
            recorder.end_all([job.run_id], "diverged")
        status = None  # a finished trial has ended with its last report
    except Exception:
        status = "failed"
        raise
    finally:
        if status is not None:
            recorder.end_all([job.run_id], status)


def _parallel(
    recorder: Recorder,
    store: RunStore,
    jobs: list[_Job],
    setup: TrialSetup,
    fn: Callable,
    workers: int,
    send: Callable[[dict], None],
) -> None:
    """Trials in ``workers`` spawned processes; their reports come back through a queue."""
    import multiprocessing
    import queue as queues
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    import cloudpickle

    ctx = multiprocessing.get_context("spawn")
    manager = ctx.Manager()
    messages = manager.Queue()
    for job in jobs:
        recorder.start([job.run_id], job.start)
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(jobs)), mp_context=ctx, initializer=_worker_init,
        initargs=(cloudpickle.dumps(fn), messages),
    )  # fmt: skip
    futures = {pool.submit(_worker_job, job, setup): job for job in jobs}
    pending = set(futures)
    try:
        while pending:
            finished, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            _drain(messages, send, queues)
            for future in finished:
                _drain(messages, send, queues)
                job = futures[future]
                try:
                    end = future.result()
                except Exception:
                    recorder.end_all([job.run_id], "failed")
                    raise
                if end == "diverged":
                    store.mark([job.run_id], "diverged")
                    recorder.end_all([job.run_id], "diverged")
    except BaseException:
        for future, job in futures.items():
            future.cancel()
            recorder.end_all([job.run_id], "interrupted")
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        manager.shutdown()


def _drain(messages: Any, send: Callable[[dict], None], queues: Any) -> None:
    while True:
        try:
            send(messages.get_nowait())
        except queues.Empty:
            return


def _ray_runner(address: str | None, workers: int) -> Callable:
    """Trials as Ray tasks (one CPU each), reports through a Ray queue to this process."""
    try:
        import ray
        from ray.util.queue import Empty, Queue
    except ImportError:
        raise ConfigError(
            "run_trials: backend 'ray' needs Ray (pip install schedlab[ray])"
        ) from None

    def run(recorder, store, jobs, setup, fn, send) -> None:
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        limit = workers if workers > 1 else max(1, int(ray.cluster_resources().get("CPU", 1)))
        messages = Queue()
        shipped = ship(fn)
        remote = ray.remote(num_cpus=1, max_retries=0)(_ray_job)
        for job in jobs:
            recorder.start([job.run_id], job.start)
        queue, active = list(jobs), {}
        try:
            while queue or active:
                while queue and len(active) < limit:
                    job = queue.pop(0)
                    active[remote.remote(shipped, job, setup, messages)] = job
                ready, _ = ray.wait(list(active), num_returns=1, timeout=0.2)
                _drain_ray(messages, send, Empty)
                for ref in ready:
                    _drain_ray(messages, send, Empty)
                    job = active.pop(ref)
                    try:
                        end = ray.get(ref)
                    except ray.exceptions.RayTaskError as err:
                        recorder.end_all([job.run_id], "failed")
                        raise err.as_instanceof_cause() from None
                    if end == "diverged":
                        store.mark([job.run_id], "diverged")
                        recorder.end_all([job.run_id], "diverged")
        except BaseException:
            for ref, job in active.items():
                ray.cancel(ref, force=True)
                recorder.end_all([job.run_id], "interrupted")
            raise

    return run


def _ray_job(fn: Any, job: _Job, setup: TrialSetup, messages: Any) -> str:
    return _run_job(unship(fn), job, setup, messages.put)


def _drain_ray(messages: Any, send: Callable[[dict], None], empty: type) -> None:
    while True:
        try:
            send(messages.get_nowait())
        except empty:
            return
