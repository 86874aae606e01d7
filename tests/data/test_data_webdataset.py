import pytest
from torch.utils.data import DataLoader
from uniimage_data_helpers import write_shards

from uniimage.data import DataError, WebDatasetReader, build_dataset
from uniimage.data.webdataset_reader import list_shards


def keys_of(samples):
    return [s["key"] for s in samples]


def test_counts_skips_and_captions(tmp_path):
    expected = write_shards(tmp_path, n_shards=2, per_shard=5)
    reader = WebDatasetReader(tmp_path, 16, shuffle=False)
    samples = list(reader)
    s = reader.stats
    assert keys_of(samples) == expected  # in order without shuffle
    assert (s.seen, s.yielded, s.skipped_corrupt, s.skipped_invalid, s.t2i, s.upscaled) == (13, 10, 2, 1, 10, 0)
    assert samples[0]["caption"] == "caption s0_000" and samples[0]["target"].shape == (3, 16, 16)
    assert samples[0]["source_images"] == [] and samples[0]["kind"] == "t2i"


def test_caption_from_json(tmp_path):
    write_shards(tmp_path, 1, 3, bad=False, caption_json=True)
    samples = list(WebDatasetReader(tmp_path, 8, shuffle=False))
    assert [s["caption"] for s in samples] == [f"caption s0_00{i}" for i in range(3)]


def test_shard_lists_dir_glob_braces(tmp_path):
    write_shards(tmp_path, 3, 1, bad=False)
    every = [str(tmp_path / f"shard-{i:03d}.tar") for i in range(3)]
    assert list_shards(tmp_path) == every
    assert list_shards(str(tmp_path / "shard-*.tar")) == every
    assert list_shards(str(tmp_path / "shard-{000..001}.tar")) == every[:2]
    with pytest.raises(DataError, match="shard-{000..005}"):
        list_shards(str(tmp_path / "shard-{000..005}.tar"))
    with pytest.raises(DataError, match="nowhere"):
        list_shards(str(tmp_path / "nowhere"))


def test_truncated_shard_is_counted_not_fatal(tmp_path):
    write_shards(tmp_path, 2, 4, bad=False)
    shard = tmp_path / "shard-001.tar"
    shard.write_bytes(shard.read_bytes()[:600])  # cut inside the first member's data
    reader = WebDatasetReader(tmp_path, 8, shuffle=False)
    assert keys_of(reader) == [f"shard-000.tar/s0_00{i}" for i in range(4)]
    assert reader.stats.shard_errors >= 1  # webdataset may report one broken shard at two levels


def test_shuffle_buffer_is_seeded(tmp_path):
    expected = write_shards(tmp_path, 3, 6, bad=False)

    def run(seed, epoch=0):
        r = WebDatasetReader(tmp_path, 8, seed=seed, shuffle_buffer=10)
        r.set_epoch(epoch)
        return keys_of(r)

    a = run(5)
    assert a == run(5) and sorted(a) == sorted(expected) and a != expected
    assert run(5, epoch=1) != a


def test_two_ranks_two_workers_see_every_sample_once(tmp_path):
    # 8 shards over 2 ranks x 2 real dataloader workers: each slot reads 2 shards.
    expected = write_shards(tmp_path, 8, 3, bad=False)
    spec = {"type": "webdataset", "path": str(tmp_path), "shuffle_buffer": 4}
    per_rank = []
    for rank in range(2):
        ds = build_dataset(spec, image_size=8, seed=11, rank=rank, world_size=2)
        per_rank.append(keys_of(DataLoader(ds, batch_size=None, num_workers=2)))
    assert set(per_rank[0]).isdisjoint(per_rank[1])
    union = per_rank[0] + per_rank[1]
    assert len(union) == len(set(union)) == len(expected) and set(union) == set(expected)
    assert all(len(k) == 12 for k in per_rank)


def test_split_simulated_slots_are_disjoint(tmp_path, monkeypatch):
    # Same check in-process (slots set by hand), over several epochs, including the all-slot union.
    import uniimage.data.stream as stream

    expected = write_shards(tmp_path, 5, 2, bad=False)  # 5 shards over 4 slots: one slot reads two
    for epoch in range(3):
        seen = []
        for rank in range(2):
            for worker in range(2):
                monkeypatch.setattr(stream, "get_worker_info", lambda w=worker: type("W", (), {"id": w, "num_workers": 2}))
                r = WebDatasetReader(tmp_path, 8, seed=1, rank=rank, world_size=2)
                r.set_epoch(epoch)
                seen.append(set(keys_of(r)))
        assert sum(len(s) for s in seen) == len(expected) and set().union(*seen) == set(expected)
