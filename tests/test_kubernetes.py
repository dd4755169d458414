"""The generated Kubernetes launcher: its manifest and its submit script, offline.

For every CUDA answer, kubernetes/train.yaml validates against Kubernetes' own schema
(kubernetes-validate, strict: no unknown fields) and wires what a multi-node training job
needs: an Indexed Job whose pods find pod 0 through a headless Service, GPUs only for a
CUDA project, the Dockerfile's user, and a failure policy that replaces a preempted pod.
Its launch script is run with a stand-in `python`, and kubernetes/submit.sh with a
stand-in `kubectl` that hands the kustomization to the real `kubectl kustomize`. And
`scaffold update --data launchers=slurm,kubernetes` adds the launcher to an existing repo.
"""

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from checks import render
from releases import History
from test_template import choice_values

from scaffold.generation import new_project
from scaffold.update import update_project

# podFailurePolicy is stable from 1.31: the oldest Kubernetes the manifest is checked for.
KUBERNETES_VERSION = "1.31.0"
PACKAGE = "kubeproj"
NEXT = "99.0.0"  # the working tree's template, released in a test's own history
CUDA_ANSWERS = choice_values("cuda_version")


def manifest(project: Path) -> dict[str, dict[str, Any]]:
    """train.yaml's objects by kind (it is one List)."""
    listing = yaml.safe_load((project / "kubernetes" / "train.yaml").read_text(encoding="utf-8"))
    assert (listing["apiVersion"], listing["kind"]) == ("v1", "List")
    return {item["kind"]: item for item in listing["items"]}


def container(documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    (train,) = documents["Job"]["spec"]["template"]["spec"]["containers"]
    return train


def environment(documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {item["name"]: item.get("value") for item in container(documents)["env"]}


@pytest.fixture(scope="module")
def projects(template_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("kubernetes")
    return {
        cuda: render(
            template_dir,
            root / f"cuda-{cuda}",
            {
                "project_name": PACKAGE,
                "cuda_version": cuda,
                "launchers": ["kubernetes"],
                "tracker": tracker_of(cuda),
            },
        )
        for cuda in CUDA_ANSWERS
    }


def tracker_of(cuda: str) -> str:
    """MLflow for the CUDA projects, TensorBoard for the CPU one: both trackers' Jobs."""
    return "tensorboard" if cuda == "none" else "mlflow"


@pytest.mark.parametrize("cuda", CUDA_ANSWERS)
def test_manifest_is_valid_kubernetes(projects: dict[str, Path], cuda: str) -> None:
    documents = manifest(projects[cuda])
    assert set(documents) == {"PersistentVolumeClaim", "Service", "Job"}
    for document in documents.values():
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_validation_catches_a_bad_manifest(projects: dict[str, Path]) -> None:
    job = manifest(projects["none"])["Job"]
    job["spec"]["completionMode"] = ["Indexed"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("cuda", CUDA_ANSWERS)
def test_manifest_wires_the_job(projects: dict[str, Path], cuda: str) -> None:
    documents = manifest(projects[cuda])
    job, service = documents["Job"], documents["Service"]
    spec, pod = job["spec"], job["spec"]["template"]["spec"]
    train, env = container(documents), environment(documents)
    # One pod per node, ranked by its index, meeting at pod 0's DNS name.
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == spec["parallelism"] == int(env["NODES"])
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["selector"] == {"batch.kubernetes.io/job-name": job["metadata"]["name"]}
    assert pod["subdomain"] == service["metadata"]["name"]
    assert service["metadata"]["name"] == job["metadata"]["name"]
    assert env["MASTER_ADDR"] == "$(JOB_NAME)-0.$(JOB_NAME)"  # expanded by Kubernetes
    (job_name,) = [item for item in train["env"] if item["name"] == "JOB_NAME"]
    label = job_name["valueFrom"]["fieldRef"]["fieldPath"]
    assert label == "metadata.labels['batch.kubernetes.io/job-name']"
    script = train["command"][2]
    assert '--node-rank "$JOB_COMPLETION_INDEX"' in script
    # The image of the repo's Dockerfile, run as its user; the tag comes from submit.sh.
    dockerfile = (projects[cuda] / "Dockerfile").read_text(encoding="utf-8")
    assert "USER 1000:1000" in dockerfile
    assert pod["securityContext"]["runAsUser"] == pod["securityContext"]["runAsGroup"] == 1000
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert train["image"] == PACKAGE
    # GPUs for a CUDA project only, one training process each.
    gpus = train["resources"].get("limits", {}).get("nvidia.com/gpu")
    assert gpus == (None if cuda == "none" else 1)
    assert ("--nproc-per-node gpu" in script) == (cuda != "none")
    # A preempted pod, or one stopped with a checkpoint, is replaced without counting.
    assert pod["restartPolicy"] == "Never"
    rules = spec["podFailurePolicy"]["rules"]
    assert {
        "action": "Ignore",
        "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
    } in rules
    assert {
        "action": "Ignore",
        "onExitCodes": {"containerName": "train", "operator": "In", "values": [75]},
    } in rules
    # data/, runs/ and weights/ on the claim the manifest makes.
    (mount,) = [m for m in train["volumeMounts"] if m["name"] == "files"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "files"]
    claim = documents["PersistentVolumeClaim"]["metadata"]["name"]
    assert volume["persistentVolumeClaim"]["claimName"] == claim
    prefix = PACKAGE.upper()
    assert env[f"{prefix}_RUNS_DIR"].startswith(mount["mountPath"] + "/")
    assert env[f"{prefix}_DATA_ROOT"].startswith(mount["mountPath"] + "/")
    assert env[f"{prefix}_WEIGHTS_DIR"].startswith(mount["mountPath"] + "/")
    # MLflow's database on the claim too, not in the container, which goes with the pod.
    if tracker_of(cuda) == "mlflow":
        assert env["MLFLOW_TRACKING_URI"] == f"sqlite:///{mount['mountPath']}/mlflow.db"
    else:
        assert "MLFLOW_TRACKING_URI" not in env


def launch(project: Path, tmp_path: Path, job_uid: str) -> tuple[subprocess.Popen, Path]:
    """Start the container's command with a `python` that records its arguments and waits."""
    documents = manifest(project)
    bin_dir, record = tmp_path / "bin", tmp_path / "python-args"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "python"
    fake.write_text(f'#!/bin/bash\necho "$@" > {record}\nexec sleep 30\n')
    fake.chmod(0o755)
    env = {k: v for k, v in environment(documents).items() if v is not None}
    env[f"{PACKAGE.upper()}_RUNS_DIR"] = str(tmp_path / "runs")
    env |= {"JOB_UID": job_uid, "JOB_COMPLETION_INDEX": "0"}
    env["PATH"] = f"{bin_dir}:{os.environ['PATH']}"
    train = container(documents)
    process = subprocess.Popen(
        [*train["command"], *train["args"], "--experiment", "wide"], env=env
    )
    deadline = time.monotonic() + 10
    while not record.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert record.exists(), "the launch script did not start torchrun"
    return process, record


def test_a_new_pod_starts_the_run_and_sigterm_exits_75(
    projects: dict[str, Path], tmp_path: Path
) -> None:
    process, record = launch(projects["none"], tmp_path, "0b5e")
    arguments = record.read_text().split()
    assert arguments[-5:] == ["train", "--run-id", "k8s-0b5e", "--experiment", "wide"]
    assert arguments[arguments.index("--node-rank") + 1] == "0"
    process.send_signal(signal.SIGTERM)  # the kubelet, preempting the pod
    assert process.wait(timeout=10) == 75


@pytest.mark.parametrize("checkpoint", [True, False], ids=["checkpoint", "none-yet"])
def test_a_replacement_pod_resumes_the_run(
    projects: dict[str, Path], tmp_path: Path, checkpoint: bool
) -> None:
    """Also when the pod before stopped before its first checkpoint (killed for memory,
    say): its run folder exists, so `--run-id` would be refused at every new pod."""
    run = tmp_path / "runs" / "k8s-0b5e"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text("seed: 0\n")
    if checkpoint:
        (run / "checkpoints" / "step-40.pt").write_bytes(b"")
    process, record = launch(projects["12.9"], tmp_path, "0b5e")
    process.kill()
    process.wait()
    assert record.read_text().split()[-3:] == ["train", "--resume", "k8s-0b5e"]


def git(project: Path, *args: str) -> str:
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.org"]
    return subprocess.run(
        ["git", *identity, *args], cwd=project, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_submit_sets_the_commits_image(projects: dict[str, Path], tmp_path: Path) -> None:
    project = shutil.copytree(projects["none"], tmp_path / "project")
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "init")
    commit = git(project, "rev-parse", "HEAD")
    bin_dir, out = tmp_path / "bin", tmp_path / "applied"
    bin_dir.mkdir()
    kubectl = bin_dir / "kubectl"  # `apply --kustomize DIR OPTIONS`: render DIR, record OPTIONS
    kubectl.write_text(
        f'#!/bin/bash\n{shutil.which("kubectl")} kustomize "$3" > {out}.yaml\n'
        f'echo "${{@:4}}" > {out}.options\n'
    )
    kubectl.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    submit = ["bash", "kubernetes/submit.sh", "registry.example.org/lab/", "--namespace", "ml"]
    subprocess.run(submit, cwd=project, env=env, check=True, capture_output=True)
    applied = {d["kind"]: d for d in yaml.safe_load_all(Path(f"{out}.yaml").read_text())}
    image = container(applied)["image"]
    assert image == f"registry.example.org/lab/{PACKAGE}:{commit[:12]}"
    assert Path(f"{out}.options").read_text().split() == ["--namespace", "ml"]

    (project / "README.md").write_text("changed\n")
    refused = subprocess.run(submit, cwd=project, env=env, capture_output=True, text=True)
    assert refused.returncode == 1
    assert "uncommitted changes" in refused.stderr


def test_update_adds_the_kubernetes_launcher(tmp_path: Path) -> None:
    history = History(tmp_path / "history")
    history.release(NEXT)  # the working tree's template, which asks `launchers`
    project = new_project(tmp_path / "proj", defaults=True, data={"package_name": "proj"}).path
    assert (project / "slurm").is_dir() and not (project / "kubernetes").exists()

    update_project(
        project, bundle=history.bundle, defaults=True, data={"launchers": "slurm,kubernetes"}
    )
    assert {path.name for path in (project / "kubernetes").iterdir()} == {
        "submit.sh",
        "train.yaml",
    }
    assert (project / "slurm" / "train.sbatch").is_file()
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert "### Kubernetes" in readme and "### Slurm" in readme
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert answers["launchers"] == ["slurm", "kubernetes"]
