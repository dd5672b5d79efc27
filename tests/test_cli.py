"""The `mgfast` command's basics: version and environment report."""

from __future__ import annotations

import torch
from typer.testing import CliRunner

import mgfast
from mgfast._native import _C
from mgfast.cli.main import app

runner = CliRunner()


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"mgfast {mgfast.__version__}"


def test_info_reports_versions_cuda_build_and_devices():
    result = runner.invoke(app, ["info"])
    assert result.exit_code == 0, result.output
    assert mgfast.__version__ in result.output and torch.__version__ in result.output
    expected = "compiled" if _C.cuda_compiled else "not compiled"
    assert f"CUDA kernels   {expected}" in result.output
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    assert f"CUDA devices   {count}" in result.output


def test_help_lists_the_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "info" in result.output
