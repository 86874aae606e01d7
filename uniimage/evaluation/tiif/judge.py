"""`uniimage eval tiif-judge`: ask a vision judge every yes/no question about every sampled image, score.

Each question goes alone (image + question, "Answer yes or no."), so any chat model can answer it and
one reply never has to be split into several answers. Answers land in `<out>/<model_name>/answers.jsonl`
as they arrive; per-image results go to `<out>/<model_name>/<dimension>/<short|long>/<i>.json` with the
official judge's field names (so its summary step also reads them), the scores to `summary.json`.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from ...errors import InputError
from ..files import save_text
from .answers import parse_yes_no
from .cache import AnswerCache
from .client import data_uri
from .files import LENGTHS, QuestionFile, check_matching, load_prompt_dir
from .groups import SKIPPED
from .layout import image_path
from .sample import record_name
from .scoring import image_score, summarize

UNPARSED = "unparsed"  # model_pred of an answer that was neither yes nor no (never matches)


@dataclass(frozen=True)
class ImageJob:
    dimension: str
    length: str
    index: int
    path: Path
    questions: tuple[str, ...]
    expected: tuple[str, ...]

    def slot(self, q: int) -> tuple[str, str, int, int]:
        return (self.dimension, self.length, self.index, q)


def default_out(images: Path, judge_model: str) -> Path:
    return Path(images) / ("judge_" + re.sub(r"[^A-Za-z0-9_+.\-]", "_", judge_model))


def _counts_on_disk(images: Path, model_name: str) -> dict[str, int]:
    """Dimension -> highest image index + 1, over the dimension folders holding this model's images."""
    counts: dict[str, int] = {}
    for length in LENGTHS:
        for png in Path(images).glob(f"*/{model_name}/{length}_description/*.png"):
            if png.stem.isdigit():
                dim = png.parent.parent.parent.name
                counts[dim] = max(counts.get(dim, 0), int(png.stem) + 1)
    return counts


def check_files(images: Path, model_name: str, questions: dict[str, QuestionFile], prompts: Path | None) -> None:
    """Refuse question files that do not belong to the images: from --prompts if given, else the sampler's
    run record, else the image indices on disk (an index past a file's last line)."""
    record = Path(images) / record_name(model_name)
    if prompts is not None:
        counts = {d: len(f) for d, f in load_prompt_dir(prompts).items()}
        check_matching(counts, questions, f"--prompts {prompts}")
    elif record.is_file():
        try:
            files = json.loads(record.read_text(encoding="utf-8"))["tiif"]["prompt_files"]
            counts = {d: int(v["prompts"]) for d, v in files.items()}
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise InputError(f"{record}: not a readable TIIF run record ({e}); pass --prompts to check against") from e
        check_matching(counts, questions, f"run record {record.name}")
    disk = _counts_on_disk(images, model_name)
    if not disk:
        raise InputError(f"no images of model {model_name!r} under {images} "
                         f"(expected <dimension>/{model_name}/short_description/<i>.png); check --model-name")
    unknown = sorted(set(disk) - set(questions))
    if unknown:
        raise InputError(f"images of dimension(s) {', '.join(unknown)} have no question file in --eval-prompts")
    over = [f"{d}: image {disk[d] - 1} but {len(questions[d])} question lines" for d in sorted(disk)
            if disk[d] > len(questions[d])]
    if over:
        raise InputError(f"prompt and question files do not match: {'; '.join(over)}")


def plan(images: Path, model_name: str, questions: dict[str, QuestionFile]) -> tuple[list[ImageJob], dict]:
    """The images to judge, and what is left out: skipped dimensions, unsampled ones, missing images."""
    sampled = set(_counts_on_disk(images, model_name))
    jobs, missing = [], {}
    for dim in sorted(questions):
        if dim in SKIPPED or dim not in sampled:
            continue
        qf = questions[dim]
        for length in LENGTHS:
            absent = 0
            for i in range(len(qf)):
                path = image_path(images, dim, model_name, length, i)
                if path.is_file():
                    jobs.append(ImageJob(dim, length, i, path, qf.questions[i], qf.expected[i]))
                else:
                    absent += 1
            if absent:
                missing[f"{dim}/{length}"] = absent
    left_out = {
        "skipped": {d: SKIPPED[d] for d in sorted(questions) if d in SKIPPED},
        "not_sampled": sorted(d for d in questions if d not in sampled and d not in SKIPPED),
        "missing_images": missing,
    }
    return jobs, left_out


class _Asker:
    """Runs in worker threads: one image at a time, its questions in order, each answer cached at once."""

    def __init__(self, judge, judge_model: str, cache: AnswerCache, reask_unparsed: bool, bar):
        self.judge, self.judge_model, self.cache = judge, judge_model, cache
        self.reask_unparsed, self.bar = reask_unparsed, bar
        self.stop = threading.Event()
        self.asked = 0
        self._lock = threading.Lock()

    def __call__(self, job: ImageJob) -> None:
        data = job.path.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        uri = None
        for q, question in enumerate(job.questions):
            if self.stop.is_set():
                return
            hit = self.cache.get(job.slot(q), question, sha, self.judge_model)
            if hit is None or (self.reask_unparsed and parse_yes_no(hit.get("raw")) is None):
                uri = uri or data_uri(data, job.path.suffix)
                raw = self.judge.ask(uri, question)
                self.cache.put(job.slot(q), {"question": question, "image_sha256": sha, "judge_model": self.judge_model,
                                             "raw": raw, "answer": parse_yes_no(raw)})
                with self._lock:
                    self.asked += 1
            self.bar.update(1)


def ask_all(jobs: list[ImageJob], judge, judge_model: str, cache: AnswerCache, *, concurrency: int = 4,
            reask_unparsed: bool = False, progress: bool = True) -> int:
    """Returns how many questions were sent. On a judge error the other workers stop after their current
    question, and the error is raised; every answer received is already in the cache."""
    total = sum(len(j.questions) for j in jobs)
    with tqdm(total=total, unit="question", disable=not progress) as bar:
        asker = _Asker(judge, judge_model, cache, reask_unparsed, bar)
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            futures = [pool.submit(asker, job) for job in jobs]
            try:
                done, _ = wait(futures, return_when=FIRST_EXCEPTION)
                failed = next((f for f in done if f.exception() is not None), None)
                if failed is not None:
                    raise failed.exception()
            except BaseException:  # a judge error or Ctrl-C: stop asking (leaving the pool waits for workers)
                asker.stop.set()
                for f in futures:
                    f.cancel()
                raise
    return asker.asked


def image_record(job: ImageJob, cache: AnswerCache, judge_model: str, question_file: str) -> dict:
    entries = [cache.entries[job.slot(q)] for q in range(len(job.questions))]
    answers = [parse_yes_no(e["raw"]) for e in entries]  # from the raw reply: the cache outlives parser changes
    return {
        # The official judge's fields (its summary step reads gt_answers and model_pred).
        "attribute": job.dimension, "desc": f"{job.length}_description", "jsonl_file": question_file,
        "line_idx": job.index, "questions": list(job.questions), "gt_answers": list(job.expected),
        "model_pred": [a if a is not None else UNPARSED for a in answers],
        "model_output": "\n".join(e["raw"] for e in entries),
        # Ours.
        "image": str(job.path), "judge_model": judge_model, "raw_answers": [e["raw"] for e in entries],
        **image_score(list(job.expected), answers),
    }


def run_judge(*, eval_prompts: Path, images: Path, model_name: str, judge, judge_model: str,
              out: Path | None = None, prompts: Path | None = None, concurrency: int = 4,
              reask_unparsed: bool = False, progress: bool = True) -> dict:
    from .files import load_question_dir

    questions = load_question_dir(eval_prompts)
    check_files(images, model_name, questions, prompts)
    out = Path(out) if out is not None else default_out(images, judge_model)
    root = out / model_name
    jobs, left_out = plan(images, model_name, questions)
    cache = AnswerCache(root / "answers.jsonl")
    start = time.perf_counter()
    asked = ask_all(jobs, judge, judge_model, cache, concurrency=concurrency, reask_unparsed=reask_unparsed,
                    progress=progress)
    seconds = time.perf_counter() - start
    per_image = []
    for job in jobs:
        rec = image_record(job, cache, judge_model, questions[job.dimension].path.name)
        save_text(json.dumps(rec, ensure_ascii=False, indent=2) + "\n",
                  root / job.dimension / job.length / f"{job.index}.json")
        per_image.append({"dimension": job.dimension, "length": job.length,
                          **{k: rec[k] for k in ("correct", "total", "unparsed", "score")}})
    if not per_image:
        raise InputError(f"nothing to judge: no images of {model_name!r} under {images} for the dimensions "
                         f"in {eval_prompts} (text is skipped)")
    summary = {
        "benchmark": "tiif", "model_name": model_name, "images": str(Path(images).resolve()),
        "eval_prompts": str(Path(eval_prompts).resolve()), "judge": getattr(judge, "describe", dict)(),
        "judge_model": judge_model, "asking": "one request a question: image as a data URI + the question",
        **summarize(per_image), **left_out,
        "counts": {"images": len(per_image), "questions": sum(i["total"] for i in per_image),
                   "asked_this_run": asked, "judge_s": round(seconds, 3)},
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    save_text(json.dumps(summary, indent=2) + "\n", root / "summary.json")
    summary["out"] = str(root)
    return summary
