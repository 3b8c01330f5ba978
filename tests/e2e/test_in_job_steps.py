"""The ready-made in-job steps of integrations/, each run as its CI would run it, against
`citriage serve`: the Ansible role through the Zuul post-run playbook under ansible-playbook,
the GitHub Action's steps with its inputs, the GitLab template's script (and the template
against GitLab's published CI schema), and the Jenkins snippet's `sh` block. Each installs
citriage with pip, as written, from a wheelhouse built here (so no step needs the network)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from tests.conftest import EVENTS, REPO
from tests.e2e.serving import launch_serve, wait_for

pytestmark = pytest.mark.e2e
KEY = "in-job-e2e-generic-key"
STEPS = REPO / "integrations"
TOOLS = REPO / ".venv-integrations" / "bin"


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory) -> Path:
    """citriage's wheel and its dependencies' (what `pip install citriage` takes, offline)."""
    if not (TOOLS / "ansible-playbook").exists():
        pytest.fail("the in-job steps' tools are missing: run `make integrations-tools`")
    house = tmp_path_factory.mktemp("wheelhouse")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(house), str(REPO)],
        check=True,
        timeout=600,
    )
    return house


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve")
    keys = tmp / "keys.json"
    keys.write_text(json.dumps({"generic": KEY}))
    process, lines = launch_serve(tmp / "out", keys)
    try:
        url = wait_for(lines, "citriage serve: listening on").split()[4]
        yield url, (tmp / "out" / "api-token").read_text().strip()
    finally:
        process.kill()
        process.wait()


def job_dir(tmp_path: Path, tree: str) -> Path:
    """A job's workspace: the bundled tree's results and console."""
    work = tmp_path / "workspace"
    shutil.copytree(EVENTS / "logs" / tree, work)
    return work


def step_env(wheelhouse: Path, **extra: str) -> dict[str, str]:
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CITRIAGE_", "PIP_", "VIRTUAL_ENV"))
    }
    pip = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    return base | pip | extra


def verdict(url: str, token: str, run_id: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer = requests.get(
            f"{url}/runs/{run_id.replace('/', '%2F')}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        if answer.status_code == 200:
            return str(answer.json()["verdict"])
        time.sleep(0.5)
    raise AssertionError(f"{run_id} was never analysed")


def test_the_zuul_post_run_playbook_runs_the_ansible_role(served, wheelhouse, tmp_path: Path):
    url, token = served
    logs = job_dir(tmp_path, "tempest-mixed")
    zuul = {
        "job": "tempest-full-py3",
        "build": "5b1e0c2d9a7f4e3b8c6d1a2f3e4d5c6b",
        "tenant": "openstack",
        "pipeline": "check",
        "change": "912345",
        "patchset": "3",
        "project": {"name": "openstack/nova"},
        "executor": {"log_root": str(logs)},
    }
    extra = {"zuul": zuul, "zuul_success": False, "citriage": {"server": url, "key": KEY}}
    done = subprocess.run(
        [str(TOOLS / "ansible-playbook"), "-i", "localhost,", "-c", "local", "-e", json.dumps(extra),
         str(STEPS / "zuul" / "playbooks" / "citriage-submit.yaml")],
        env=step_env(wheelhouse, ANSIBLE_ROLES_PATH=str(STEPS / "ansible" / "roles"), ANSIBLE_NOCOLOR="1",
                     ANSIBLE_PYTHON_INTERPRETER=sys.executable),
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "upload:5b1e0c2d9a7f4e3b8c6d1a2f3e4d5c6b" in done.stdout
    assert verdict(url, token, "upload:5b1e0c2d9a7f4e3b8c6d1a2f3e4d5c6b") == "failed_new"
    # The key reached citriage through the environment, never the command line Ansible logs
    assert KEY not in done.stdout


def _github_expression(text: str, inputs: dict[str, str]) -> str:
    return re.sub(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", lambda m: inputs[m.group(1)], text)


def test_the_github_actions_steps_run_with_their_inputs_and_gate_on_the_verdict(
    served, wheelhouse, tmp_path: Path
):
    url, token = served
    action = yaml.safe_load((STEPS / "github" / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    work = job_dir(tmp_path, "tempest-mixed")
    given = {"server": url, "key": KEY, "job": "octo/app/CI/tests", "build-id": "777-1-tests",
             "result": "failure", "dir": str(work), "wait": "true", "fail-on": "new"}  # fmt: skip
    inputs = {name: given.get(name, spec.get("default", "")) for name, spec in action["inputs"].items()}
    runner_temp, output = tmp_path / "runner", tmp_path / "github-output"
    runner_temp.mkdir()
    output.touch()
    status = 0
    for step in action["runs"]["steps"]:
        env = {k: _github_expression(str(v), inputs) for k, v in (step.get("env") or {}).items()}
        done = subprocess.run(
            ["bash", "-e", "-c", step["run"]],
            env=step_env(wheelhouse, RUNNER_TEMP=str(runner_temp), GITHUB_OUTPUT=str(output), **env),
            cwd=work, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        status = done.returncode
        if status:
            break
    # The step fails (exit 1): the run has a new failure; its run id is the step's output
    assert status == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert "run-id=upload:777-1-tests" in output.read_text()
    assert verdict(url, token, "upload:777-1-tests") == "failed_new"


def test_the_gitlab_template_is_valid_ci_and_its_script_submits(served, wheelhouse, tmp_path: Path):
    url, token = served
    template = STEPS / "gitlab" / "citriage-submit.gitlab-ci.yml"

    def validate(extra: str) -> subprocess.CompletedProcess[str]:
        """The template, and a job that extends it as docs/in-job.md shows, against GitLab's schema."""
        pipeline = tmp_path / "pipeline.gitlab-ci.yml"
        pipeline.write_text(
            template.read_text() + "tests:\n  extends: .citriage-submit\n  script: [pytest]\n" + extra
        )
        return subprocess.run(
            [str(TOOLS / "check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", str(pipeline)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    checked = validate("")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # (and the schema does refuse a broken job)
    refused = validate("  when: sometimes\n")
    assert refused.returncode == 1 and "'sometimes' is not one of" in refused.stdout
    document = yaml.safe_load(template.read_text())
    work = job_dir(tmp_path, "tempest-passing")
    ci = {"CITRIAGE_SERVER": url, "CITRIAGE_KEY": KEY, "CI_PROJECT_PATH": "group/app", "CI_JOB_NAME": "tests",
          "CI_JOB_ID": "9911", "CI_JOB_STATUS": "success",
          "CI_JOB_URL": "https://gitlab.example.org/group/app/-/jobs/9911"}  # fmt: skip
    variables = {k: str(v) for k, v in document["variables"].items()} | {"CITRIAGE_DIR": str(work)}
    script = "\n".join(document[".citriage-submit"]["after_script"])
    done = subprocess.run(
        ["bash", "-e", "-c", script], env=step_env(wheelhouse, **variables, **ci), cwd=work,
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert verdict(url, token, "upload:9911") == "passed"


def test_the_jenkins_snippets_post_step_submits(served, wheelhouse, tmp_path: Path):
    url, token = served
    snippet = (STEPS / "jenkins" / "Jenkinsfile.snippet").read_text()
    post = snippet[snippet.index("post {") :]
    script = re.search(r"sh '''\n(.*?)'''", post, re.S)
    assert script is not None
    work = job_dir(tmp_path, "tempest-known")
    jenkins = {"CITRIAGE_SERVER": url, "CITRIAGE_KEY": KEY, "WORKSPACE": str(work),
               "JOB_NAME": "tempest-integrated-storage",  # the job the tree was made by (events/README.md)
               "BUILD_NUMBER": "318", "BUILD_URL": "https://jenkins.example.org/job/tempest-integrated-storage/318/",
               "CITRIAGE_RESULT": "FAILURE"}  # fmt: skip
    done = subprocess.run(
        ["bash", "-e", "-c", script.group(1)], env=step_env(wheelhouse, **jenkins), cwd=work,
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert verdict(url, token, "upload:318") == "failed_known"
