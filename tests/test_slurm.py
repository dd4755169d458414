"""The generated Slurm scripts on a real Slurm: a single-host cluster of two node daemons.

scripts/slurm_cluster.sh starts it (Debian's slurmctld, two slurmd and munge; installed by
scripts/test.sh) and stops it after these tests; each test process has a cluster of its own.
A generated project submits, through its slurm/submit.sh, the smoke pre-flight on 2 nodes
x 1 process (CPU, gloo) and a 2-task sweep array sharing one Optuna study in a journal
file; the jobs must complete, their run manifests record the world size, the nodes, the
Slurm job and the submitted commit, even when the checkout moved on before the job
started; a preempted training job requeues itself and resumes from its checkpoint.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from test_generated_projects import isolated_environment

from scaffold.generation import new_project

pytestmark = pytest.mark.slow
CLUSTER = REPO_ROOT / "scripts" / "slurm_cluster.sh"
PACKAGE = "slurmproj"
NO_CHECKS = ["smoke_checks.enabled=false"]  # runs cut short cannot show the learning signal
TINY_SWEEP = """\
metric: loss
direction: minimize
trials: 2
overrides: [train.max_steps=4, train.eval_every=2, train.checkpoint_every=2,
  train.inspect_inputs=false, smoke_checks.enabled=false]
params:
  train.lr: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The cluster, up for this module's tests, then stopped: the environment that finds it.
    Each test process has its own (own config, ports and munged), so xdist may split these
    tests across processes."""
    if os.geteuid() != 0:
        pytest.skip("starting slurmctld, slurmd and munged needs root (CI runs as root)")
    if shutil.which("slurmd") is None:
        pytest.skip("no Slurm here: `bash scripts/slurm_cluster.sh install` (scripts/test.sh)")
    state = tmp_path_factory.mktemp("slurm")
    env = {**os.environ, "SLURM_TEST_DIR": str(state), "SLURM_CONF": str(state / "slurm.conf")}
    started = subprocess.run(["bash", str(CLUSTER), "start"], env=env, capture_output=True)
    try:
        assert started.returncode == 0, started.stderr.decode()
        yield env
    finally:
        subprocess.run(["bash", str(CLUSTER), "stop"], env=env, check=True)


@pytest.fixture
def project(cluster: dict, template_dir: Path, tmp_path: Path) -> tuple[Path, dict]:
    return prepared_project(cluster, template_dir, tmp_path)


def prepared_project(
    cluster: dict, template_dir: Path, tmp_path: Path, tracker: str = "tensorboard"
) -> tuple[Path, dict]:
    """A generated project, installed, its smoke data prepared, a tiny sweep committed."""
    data = {"project_name": "Slurm proj", "package_name": PACKAGE, "cuda_version": "none"}
    data["tracker"] = tracker
    root = new_project(
        tmp_path / "proj", data=data, defaults=True, template=str(template_dir), lock=False
    ).path
    env_bin = isolated_environment(tmp_path / "env")
    pip = [sys.executable, "-m", "pip", "--python", str(env_bin / "python"), "install"]
    install = ["--quiet", "--no-deps", "--no-build-isolation", "--editable", "."]
    subprocess.run([*pip, *install], cwd=root, check=True)
    env = {**cluster, "PATH": f"{env_bin}:{os.environ['PATH']}"}
    for stage in ("download", "preprocess"):
        run(["python", "-m", PACKAGE, stage, "--smoke"], root, env)
    (root / "configs" / "sweep" / "tiny.yaml").write_text(TINY_SWEEP)
    run(["git", "add", "--all"], root, env)
    run(["git", "commit", "--quiet", "--message", "test: a tiny sweep"], root, env)
    return root, env


def run(command: list[str], cwd: Path, env: dict) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(command)}\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def submit(root: Path, env: dict, *arguments: str, cwd: Path | None = None) -> int:
    """slurm/submit.sh with `arguments`, typed in `cwd` (default: the root); the job id."""
    script = os.path.relpath(root / "slurm" / "submit.sh", cwd or root)
    output = run(["bash", script, *arguments], cwd or root, env)
    return int(re.search(r"Submitted batch job (\d+)", output).group(1))


# A job (or array task) in one of these states has ended for good; any other may run again
# (a requeued job passes through REQUEUED and PENDING, which squeue hides by default).
ENDED = {
    *("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY"),
    *("PREEMPTED", "BOOT_FAIL", "DEADLINE", "SPECIAL_EXIT"),
}


def wait_until_gone(job: int, env: dict, timeout: float = 300) -> None:
    """Wait until job `job` and all its array tasks have ended. squeue failing is no proof
    of that (under load it can time out talking to slurmctld); "Invalid job id" is: the job
    ended and slurmctld has forgotten it."""
    command = ["squeue", "--noheader", "--states=all", "--format=%T", "--jobs", str(job)]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        queue = subprocess.run(command, env=env, capture_output=True, text=True)
        if queue.returncode == 0 and set(queue.stdout.split()) <= ENDED:
            return
        if queue.returncode != 0 and "Invalid job id" in queue.stderr:
            return
        time.sleep(1)
    raise AssertionError(f"job {job} has not ended after {timeout} s")


def job_log(root: Path, name: str, job: int) -> str:
    return (root / "runs" / "slurm" / f"{PACKAGE}-{name}-{job}.out").read_text()


def manifest(root: Path, run: str) -> dict:
    return json.loads((root / "runs" / run / "manifest.json").read_text())["attempts"][-1]


def test_the_smoke_preflight_runs_on_two_nodes_from_the_submitted_commit(
    project: tuple[Path, dict],
) -> None:
    root, env = project
    submitted = run(["git", "rev-parse", "HEAD"], root, env).strip()
    env = {**env, f"{PACKAGE.upper()}_DATA_ROOT": "data"}  # relative: read from the root
    # Typed in a subfolder, with the script's path from there.
    job = submit(root, env, "../slurm/smoke.sbatch", "--nodes", "2", "--hold", cwd=root / "src")
    # The checkout moves on while the job waits: the job must still run what was submitted.
    (root / "configs" / "smoke.yaml").write_text("this: [is not, a config\n")
    run(["git", "commit", "--quiet", "--all", "--message", "test: a broken config"], root, env)
    run(["scontrol", "release", str(job)], root, env)
    wait_until_gone(job, env)

    log = job_log(root, "smoke", job)
    assert f"smoke-job-{job}: test accuracy" in log, log  # eval ran: training completed
    attempt = manifest(root, f"smoke-job-{job}")
    assert attempt["status"] == "completed"
    assert attempt["world_size"] == 2
    assert attempt["cluster"]["job_id"] == str(job)
    assert attempt["cluster"]["nodelist"] == "node[1-2]"
    assert attempt["git"]["commit"] == submitted
    assert attempt["git"]["modified"] == attempt["git"]["untracked"] == []


def test_a_jobs_mlflow_records_reach_the_projects_database(
    cluster: dict, template_dir: Path, tmp_path: Path
) -> None:
    """Not the snapshot's, where the job runs: `mlflow ui` in the project would miss them."""
    import mlflow

    root, env = prepared_project(cluster, template_dir, tmp_path, tracker="mlflow")
    env = {**env, "MLFLOW_TRACKING_URI": "sqlite:///mlflow.db"}  # MLflow's own example
    job = submit(root, env, "slurm/smoke.sbatch", "--wait")
    assert f"smoke-job-{job}: test accuracy" in job_log(root, "smoke", job)
    client = mlflow.MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    (experiment,) = client.search_experiments(filter_string=f"name = '{PACKAGE}'")
    (mlflow_run,) = client.search_runs([experiment.experiment_id])
    assert mlflow_run.info.run_name == f"smoke-job-{job}"
    assert mlflow_run.info.status == "FINISHED"
    assert experiment.artifact_location.removeprefix("file://") == str(root / "mlruns")
    assert list((root / "mlruns").rglob("*.png")), "the run's images, beside the database"
    assert not list((root / ".snapshots").glob("*/mlflow.db"))


def test_a_sweep_array_shares_one_study_and_every_task_completes(
    project: tuple[Path, dict],
) -> None:
    import optuna
    from optuna.storages.journal import JournalFileBackend

    root, env = project
    options = ["--array", "0-1", "--cpus-per-task", "1", "--wait"]
    job = submit(root, env, "slurm/sweep.sbatch", *options, "--", "tiny", "--smoke")

    journal = root / "runs" / "sweeps" / f"tiny-smoke-{job}" / "journal.log"
    storage = optuna.storages.JournalStorage(JournalFileBackend(str(journal)))
    study = optuna.load_study(study_name=f"tiny-smoke-{job}", storage=storage)
    assert [trial.state.name for trial in study.trials] == ["COMPLETE", "COMPLETE"]
    workers = {trial.user_attrs["worker"] for trial in study.trials}
    assert workers <= {f"slurm-{job}_0", f"slurm-{job}_1"}
    for trial in study.trials:
        attempt = manifest(root, trial.user_attrs["run"])
        assert attempt["cluster"]["array_job_id"] == str(job)
        assert attempt["sweep"] == {"study": f"tiny-smoke-{job}", "trial": trial.number}
    assert (journal.parent / "results.csv").is_file()
    assert (root / "runs" / "slurm" / f"{PACKAGE}-sweep-{job}_1.out").is_file()

    # A later array job continues the study it names, to the trials it now asks for.
    options = ["--array", "0", "--cpus-per-task", "1", "--wait"]
    more = ["--study", f"tiny-smoke-{job}", "--trials", "3"]
    submit(root, env, "slurm/sweep.sbatch", *options, "--", "tiny", "--smoke", *more)
    study = optuna.load_study(study_name=f"tiny-smoke-{job}", storage=storage)
    assert [trial.state.name for trial in study.trials] == ["COMPLETE"] * 3


def test_submit_refuses_what_the_job_could_not_run(project: tuple[Path, dict]) -> None:
    root, env = project

    def submitted(*arguments: str, environment: dict = env) -> subprocess.CompletedProcess:
        command = ["bash", "slurm/submit.sh", *arguments]
        return subprocess.run(command, cwd=root, env=environment, capture_output=True, text=True)

    (root / "configs" / "experiment" / "narrow.yaml").write_text("model: {width: 8}\n")
    refused = submitted("slurm/smoke.sbatch", "--", "--experiment", "narrow")
    assert refused.returncode == 1
    assert "untracked files; a job runs committed code only" in refused.stderr
    assert "configs/experiment/narrow.yaml" in refused.stderr
    (root / "configs" / "experiment" / "narrow.yaml").unlink()

    no_environment = {**env, "PATH": "/usr/bin:/bin"}  # the project's environment not active
    refused = submitted("slurm/smoke.sbatch", environment=no_environment)
    assert refused.returncode == 1
    assert "activate the project's environment" in refused.stderr

    missing = submitted("smoke.sbatch")
    assert missing.returncode == 2 and "error: no job script smoke.sbatch" in missing.stderr


def test_two_submits_of_a_new_commit_at_once_both_go_through(
    project: tuple[Path, dict],
) -> None:
    root, env = project
    command = ["bash", "slurm/submit.sh", "slurm/smoke.sbatch", "--hold"]
    submits = [
        subprocess.Popen(
            command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=60) for process in submits]
    jobs = [re.search(r"Submitted batch job (\d+)", out) for out, _ in outputs]
    run(["scancel", *(job.group(1) for job in jobs if job)], root, env)
    assert all(jobs), outputs
    commit = run(["git", "rev-parse", "HEAD"], root, env).strip()
    assert [p.name for p in (root / ".snapshots").iterdir()] == [commit]  # no partial copy left


def release_held(job: int, env: dict) -> None:
    """Start a requeued job now, not after Slurm's 2-minute hold, once slurmctld has taken the
    requeue (the job is pending, its reason BeginTime) and a second more has passed: the
    requeue revoked the job's credential, at a resolution of seconds, and slurmd refuses a
    start within the same second ("Job credential revoked"), which ends the job. (A start
    time set in the future would wait for the backfill scheduler, every 30 s.)"""
    query = ["squeue", "--noheader", "--states=all", "--format=%T %r", "--jobs", str(job)]
    deadline = time.monotonic() + 60
    while True:
        held = subprocess.run(query, env=env, capture_output=True, text=True).stdout
        if held.split() == ["PENDING", "BeginTime"]:
            break
        assert time.monotonic() < deadline, f"job {job} not held for its requeue: {held}"
        time.sleep(0.5)
    time.sleep(1.5)
    run(["scontrol", "update", f"JobId={job}", "StartTime=now"], Path.cwd(), env)


def wait_for_log(root: Path, job: int, env: dict, text: str, timeout: float = 120) -> None:
    """Wait for `text` in the job's log; if it does not come, fail with the log and what
    Slurm says of the job and its nodes."""
    deadline = time.monotonic() + timeout
    while text not in (log := job_log(root, "train", job)):
        if time.monotonic() > deadline:
            slurm = [["scontrol", "show", "job", str(job)], ["sinfo", "--long", "--Node"]]
            said = [subprocess.run(c, env=env, capture_output=True, text=True) for c in slurm]
            raise AssertionError("\n".join([log, *(r.stdout + r.stderr for r in said)]))
        time.sleep(0.5)


# SIGTERM reaches the batch shell at the time limit (--signal=B:TERM@120); a preempting
# scheduler may signal the job's steps instead, where torchrun turns the exit status 75 into 1.
@pytest.mark.parametrize("signalled", [["--batch"], []], ids=["batch shell", "steps"])
def test_a_preempted_training_job_requeues_itself_and_resumes_its_run(
    project: tuple[Path, dict], signalled: list[str]
) -> None:
    root, env = project
    options = ["--nodes", "2", "--gpus-per-node=0", "--cpus-per-task", "1"]
    arguments = ["--smoke", "train.max_steps=150", "train.checkpoint_every=50"]
    job = submit(root, env, "slurm/train.sbatch", *options, "--", *arguments, *NO_CHECKS)
    checkpoints = root / "runs" / f"job-{job}" / "checkpoints"
    deadline = time.monotonic() + 120
    while not any(checkpoints.glob("step-*.pt")):  # it has trained a while
        assert time.monotonic() < deadline, job_log(root, "train", job)
        time.sleep(0.5)
    run(["scancel", "--signal=TERM", *signalled, str(job)], root, env)
    wait_for_log(root, job, env, "requeueing")
    release_held(job, env)
    # Between its two starts, a requeued job can show as ended (FAILED, exit 143) for a moment:
    # it is gone only once its second start has begun.
    wait_for_log(root, job, env, "resuming from")
    wait_until_gone(job, env)

    log = job_log(root, "train", job)
    attempts = json.loads((root / "runs" / f"job-{job}" / "manifest.json").read_text())
    assert len(attempts["attempts"]) == 2, log
    first, resumed = attempts["attempts"]
    assert first["status"] == "interrupted", log
    assert first["message"].startswith("stopped by SIGTERM at step ")
    assert resumed["status"] == "completed", log
    assert resumed["command"] == ["train", "--resume", f"job-{job}"]
    assert resumed["cluster"]["restart_count"] == "1"
    assert resumed["result"]["step"] == 150
    step = int(first["message"].rsplit(" ", 1)[1])
    assert f"resuming from step-{step:08d}.pt (step {step})" in log
