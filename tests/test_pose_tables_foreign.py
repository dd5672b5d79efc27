"""Pose tables written by other tools (pandas, openpyxl) read back as the same points."""

from __future__ import annotations

import numpy as np
import openpyxl
import pytest

from mgfast.io.pose_tables import NUM_COLUMNS, read_pose_table

pd = pytest.importorskip("pandas")

FRAMES = 5


@pytest.fixture
def table() -> np.ndarray:
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.uniform(0, 600, (FRAMES, 137, 2)), rng.uniform(0.1, 1, (FRAMES, 137, 1))], -1)
    points[1, 3] = 0.0  # an undetected point, as OpenPose writes it
    return points.astype(np.float32)


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
@pytest.mark.parametrize("index", [False, True])
@pytest.mark.parametrize("labels", ["integers", "strings"])
def test_tables_written_by_pandas(tmp_path, table, suffix, index, labels):
    columns = list(range(NUM_COLUMNS)) if labels == "integers" else [f"{a}{k}" for k in range(137) for a in "xyc"]
    frame = pd.DataFrame(table.reshape(FRAMES, -1), columns=columns)
    path = tmp_path / f"v_openpose{suffix}"
    if suffix == ".xlsx":
        frame.to_excel(path, index=index, engine="openpyxl")
    else:
        frame.to_csv(path, index=index)
    np.testing.assert_allclose(read_pose_table(path), table, rtol=1e-6)


def test_tables_written_by_openpyxl_with_a_numbered_header(tmp_path, table):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(range(1, NUM_COLUMNS + 1)))
    for row in table.reshape(FRAMES, -1):
        sheet.append([float(v) for v in row])
    path = tmp_path / "v_openpose.xlsx"
    book.save(path)
    np.testing.assert_allclose(read_pose_table(path), table, rtol=1e-6)


def test_a_numeric_first_row_that_is_data_stays_data(tmp_path, table):
    path = tmp_path / "v_openpose.csv"
    path.write_text("\n".join(",".join(f"{v:.6f}" for v in row) for row in table.reshape(FRAMES, -1)) + "\n")
    assert read_pose_table(path).shape == (FRAMES, 137, 3)
