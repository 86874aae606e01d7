import io
import json
import tarfile

from PIL import Image

from uniimage.cli.shapes_data import main
from uniimage.shapes.dataset import write_dataset
from uniimage.shapes.score import judge


def test_jsonl_and_wds_written_and_readable(tmp_path):
    result = write_dataset(tmp_path, n_t2i=8, n_edit=4, n_vqa=5, split="train", image_size=32, seed=0)
    rows = [json.loads(line) for line in result["jsonl"].read_text().splitlines()]
    assert len(rows) == 12
    for row in rows:
        image = Image.open(tmp_path / row["image"])
        assert image.size == (32, 32)
        if row["meta"]["task"] == "t2i":
            assert row["caption"] == row["meta"]["prompt"] and judge(image, row["meta"])[0]
            assert "source_images" not in row
        else:
            assert [Image.open(tmp_path / p).size for p in row["source_images"]] == [(32, 32)]
    vqa = [json.loads(line) for line in result["vqa_jsonl"].read_text().splitlines()]
    assert len(vqa) == 5 and all((tmp_path / r["image"]).is_file() and r["question"] and r["answer"] for r in vqa)

    (shard,) = result["wds"]
    with tarfile.open(shard) as tar:
        names = tar.getnames()
        assert names[:3] == ["000000.png", "000000.txt", "000000.json"]
        assert sum(n.endswith(".source.png") for n in names) == 4
        caption = tar.extractfile("000003.txt").read().decode()
        meta = json.loads(tar.extractfile("000003.json").read())
        image = Image.open(io.BytesIO(tar.extractfile("000003.png").read()))
    assert caption == rows[3]["caption"] and meta == rows[3]["meta"] and image.size == (32, 32)


def test_deterministic_bytes(tmp_path):
    a = write_dataset(tmp_path / "a", 6, 2, 2, split="heldout", image_size=64, seed=4, formats=("wds",))
    b = write_dataset(tmp_path / "b", 6, 2, 2, split="heldout", image_size=64, seed=4, formats=("wds",))
    assert a["wds"][0].read_bytes() == b["wds"][0].read_bytes()
    assert not (tmp_path / "a" / "heldout.jsonl").exists()  # only the asked format


def test_shards_split_by_size(tmp_path):
    result = write_dataset(tmp_path, 5, 0, 0, image_size=32, formats=("wds",), shard_size=2)
    assert [p.name for p in result["wds"]] == ["train-000000.tar", "train-000001.tar", "train-000002.tar"]


def test_cli_entry(tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--n-t2i", "3", "--n-edit", "1", "--n-vqa", "1", "--image-size", "32"]) == 0
    assert "train.jsonl" in capsys.readouterr().out
    assert len((tmp_path / "train.jsonl").read_text().splitlines()) == 4


def test_cli_edit_add_grid(tmp_path):
    """`--edit-add-grid 4`: every added object in the written edits sits at a cell centre of the 4 x 4 grid."""
    assert main(["--out", str(tmp_path), "--n-t2i", "0", "--n-edit", "8", "--n-vqa", "0", "--image-size", "32",
                 "--formats", "jsonl", "--edit-add-grid", "4"]) == 0
    rows = [json.loads(line) for line in (tmp_path / "train.jsonl").read_text().splitlines()]
    adds = [r["meta"] for r in rows if r["meta"]["tag"] == "add"]
    assert len(adds) == 2
    plain = main(["--out", str(tmp_path / "plain"), "--n-t2i", "0", "--n-edit", "8", "--n-vqa", "0", "--image-size", "32",
                  "--formats", "jsonl"])
    assert plain == 0
    before = [json.loads(line)["meta"] for line in (tmp_path / "plain" / "train.jsonl").read_text().splitlines()]
    for meta, old in zip([r["meta"] for r in rows], before):
        same = meta["target_scene"] == old["target_scene"]
        assert same == (meta["tag"] != "add"), meta  # only the adds move (these 8 move: none is already at its cell)
