"""TIIF-Bench judging with a fake judge (scoring, resume, mismatched files) and a fake HTTP server
(retries with backoff, clear errors). The live run against `uniimage serve` is in test_tiif_live.py."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from statistics import fmean

import pytest
from PIL import Image
from tiif_files import DATA, make_tiif_data

from uniimage.errors import InputError
from uniimage.evaluation.tiif import parse_yes_no
from uniimage.evaluation.tiif.client import JudgeError, OpenAIJudge, question_text
from uniimage.evaluation.tiif.groups import CATEGORIES
from uniimage.evaluation.tiif.judge import run_judge
from uniimage.evaluation.tiif.scoring import image_score, summarize

# --- the yes/no parser -------------------------------------------------------------------------------


@pytest.mark.parametrize("reply, expected", [
    ("Yes", "yes"), ("no", "no"), ("YES.", "yes"), ("No!", "no"), ("**Yes**", "yes"), ("\n\n  no\n", "no"),
    ("Yes, the cat is on the left of the box.", "yes"), ("No, there are two apples, not three.", "no"),
    ("Answer: yes", "yes"), ("The answer is no.", "no"), ("Final answer - Yes", "yes"),
    ("Yeah", "yes"), ("Nope.", "no"), ("True", "yes"), ("false", "no"),
    ("There is no cloud in the sky.", "no"),  # opens otherwise, names exactly one of the two words
    ("Looking closely, yes.", "yes"),
    ("Yes and no.", "yes"),  # the verdict comes first
])
def test_parser_reads_the_verdict(reply, expected):
    assert parse_yes_no(reply) == expected


@pytest.mark.parametrize("reply", [
    "", None, "\n\n\n\n", " armple rest ten cityck", "Maybe.", "I cannot tell.", "N/A", "Not sure",
    "It could be yes or no.",  # both words, neither first: no guess
    "Nobody knows", "Yesterday it rained",  # words that merely start like yes / no
])
def test_parser_refuses_to_guess(reply):
    assert parse_yes_no(reply) is None


def test_question_text_asks_for_yes_or_no_once():
    assert question_text("Is there a cat?  ") == "Is there a cat? Answer yes or no."
    assert question_text("Is there a cat? Answer with yes or no.") == "Is there a cat? Answer with yes or no."


# --- scoring -----------------------------------------------------------------------------------------


def test_image_score_counts_unparsed_as_wrong():
    assert image_score(["yes", "no", "yes"], ["yes", "no", None]) == {
        "correct": 2, "total": 3, "unparsed": 1, "score": pytest.approx(2 / 3)}
    with pytest.raises(ValueError):
        image_score(["yes"], ["yes", "no"])


def test_dimension_score_pools_questions_and_image_mean_averages_images():
    ims = [dict(dimension="numeracy", length="short", **image_score(["yes"] * 3, ["yes", "yes", "yes"])),
           dict(dimension="numeracy", length="short", **image_score(["yes"], ["no"]))]
    s = summarize(ims)
    d = s["dimensions"]["numeracy"]["short"]
    assert d["score"] == pytest.approx(3 / 4)  # pooled over the 4 questions (the official summary step)
    assert d["image_mean"] == pytest.approx((1 + 0) / 2)
    assert s["categories"]["Basic: Reasoning"]["short"] == pytest.approx(3 / 4)
    assert s["categories"]["Basic: Reasoning"]["long"] is None
    assert s["overall"]["short"] == pytest.approx(3 / 4) and s["overall"]["short_categories"] == 1


# --- a fake judge over images on disk ----------------------------------------------------------------


class FakeJudge:
    """Answers from a hash of (image, question): a fixed mix of yes, no, hedged and unparseable replies."""

    REPLIES = ("Yes.", "No, it is not.", "yes, clearly", "I can't tell", "**No**")

    def __init__(self):
        self.calls = 0
        self.lock = threading.Lock()

    def reply(self, uri: str, question: str) -> str:
        h = hashlib.sha256((uri + question).encode()).digest()[0]
        return self.REPLIES[h % len(self.REPLIES)]

    def ask(self, uri: str, question: str) -> str:
        with self.lock:
            self.calls += 1
        return self.reply(uri, question)


def _images(root, model="m", data=DATA, lines=None):
    """Images in the official layout, each a different colour (so each has its own bytes)."""
    for d, (dim, rows) in enumerate(sorted(data.items())):
        for i in range(len(rows) if lines is None else min(lines, len(rows))):
            for k, length in enumerate(("short", "long")):
                path = root / dim / model / f"{length}_description" / f"{i}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.new("RGB", (8, 8), (40 * d, 30 * i, 100 * k)).save(path)
    return root


def _expected_scores(images, judge: FakeJudge, model="m"):
    """The TIIF definitions written out again, independently of uniimage.evaluation.tiif.scoring."""
    from uniimage.evaluation.tiif.client import data_uri

    per = {}  # (dim, length) -> [(correct, total)]
    for dim, rows in DATA.items():
        if dim == "text":
            continue
        for length in ("short", "long"):
            for i, (_, _, qa) in enumerate(rows):
                path = images / dim / model / f"{length}_description" / f"{i}.png"
                if not path.is_file():
                    continue
                uri = data_uri(path.read_bytes())
                got = [parse_yes_no(judge.reply(uri, q)) for q, _ in qa]
                per.setdefault((dim, length), []).append(
                    (sum(g == a.lower() for g, (_, a) in zip(got, qa)), len(qa)))
    pooled = {k: sum(c for c, _ in v) / sum(t for _, t in v) for k, v in per.items()}
    image_mean = {k: fmean(c / t for c, t in v) for k, v in per.items()}
    overall = {}
    for length in ("short", "long"):
        cats = [fmean(pooled[(d, length)] for d in members if (d, length) in pooled)
                for members in CATEGORIES.values() if any((d, length) in pooled for d in members)]
        overall[length] = fmean(cats)
    return pooled, image_mean, overall


def test_fake_judge_scores_as_defined_and_skips_text(tmp_path):
    _, questions = make_tiif_data(tmp_path / "data")
    images = _images(tmp_path / "out")
    judge = FakeJudge()
    summary = run_judge(eval_prompts=questions, images=images, model_name="m", judge=judge, judge_model="fake",
                        concurrency=3, progress=False)
    pooled, image_mean, overall = _expected_scores(images, judge)
    for (dim, length), score in pooled.items():
        got = summary["dimensions"][dim][length]
        assert got["score"] == pytest.approx(score)
        assert got["image_mean"] == pytest.approx(image_mean[(dim, length)])
        assert got["images"] == len(DATA[dim])
    assert summary["overall"]["short"] == pytest.approx(overall["short"])
    assert summary["overall"]["long"] == pytest.approx(overall["long"])
    # Text: never asked, never averaged, said so.
    assert "text" not in summary["dimensions"] and "OCR" in summary["skipped"]["text"]
    assert summary["categories"]["Advanced: Text"]["short"] is None and "skipped" in summary["categories"]["Advanced: Text"]
    n_questions = sum(len(qa) for dim, rows in DATA.items() if dim != "text" for _, _, qa in rows) * 2
    assert judge.calls == n_questions == summary["counts"]["questions"]
    # The per-image file carries the official judge's fields, and ours.
    rec = json.loads((tmp_path / "out" / "judge_fake" / "m" / "negation" / "long" / "1.json").read_text())
    assert rec["attribute"] == "negation" and rec["desc"] == "long_description" and rec["line_idx"] == 1
    assert rec["gt_answers"] == ["yes", "no"] and len(rec["model_pred"]) == 2
    assert set(rec["model_pred"]) <= {"yes", "no", "unparsed"}
    assert rec["score"] == pytest.approx(rec["correct"] / 2)
    saved = json.loads((tmp_path / "out" / "judge_fake" / "m" / "summary.json").read_text())
    assert saved["dimensions"] == json.loads(json.dumps(summary["dimensions"]))


def test_rerun_asks_nothing_and_resampled_images_are_asked_again(tmp_path):
    _, questions = make_tiif_data(tmp_path / "data")
    images = _images(tmp_path / "out")
    first = FakeJudge()
    run_judge(eval_prompts=questions, images=images, model_name="m", judge=first, judge_model="fake", progress=False)
    again = FakeJudge()
    s = run_judge(eval_prompts=questions, images=images, model_name="m", judge=again, judge_model="fake",
                  progress=False)
    assert again.calls == 0 and s["counts"]["asked_this_run"] == 0
    # A new image for one prompt: only its 2 questions are asked again.
    Image.new("RGB", (8, 8), (1, 2, 3)).save(images / "negation" / "m" / "short_description" / "0.png")
    third = FakeJudge()
    run_judge(eval_prompts=questions, images=images, model_name="m", judge=third, judge_model="fake", progress=False)
    assert third.calls == 2
    # Another judge model shares nothing with the first one's cache folder: asked in full.
    other = FakeJudge()
    run_judge(eval_prompts=questions, images=images, model_name="m", judge=other, judge_model="other",
              progress=False)
    assert other.calls == first.calls


def test_reask_unparsed_and_a_torn_cache_line(tmp_path):
    _, questions = make_tiif_data(tmp_path / "data")
    images = _images(tmp_path / "out")
    judge = FakeJudge()
    run_judge(eval_prompts=questions, images=images, model_name="m", judge=judge, judge_model="fake", progress=False)
    cache = tmp_path / "out" / "judge_fake" / "m" / "answers.jsonl"
    entries = [json.loads(line) for line in cache.read_text().splitlines()]
    unparsed = sum(parse_yes_no(e["raw"]) is None for e in entries)
    assert unparsed > 0  # the fake judge hedges sometimes
    cache.write_text(cache.read_text() + '{"dimension": "negation", "len')  # a killed run's last line
    again = FakeJudge()
    run_judge(eval_prompts=questions, images=images, model_name="m", judge=again, judge_model="fake",
              reask_unparsed=True, progress=False)
    assert again.calls == unparsed
    assert all(json.loads(line) for line in cache.read_text().splitlines()[len(entries) + 1:])


def test_a_judge_error_stops_the_run_and_keeps_the_answers(tmp_path):
    _, questions = make_tiif_data(tmp_path / "data")
    images = _images(tmp_path / "out")

    class Flaky(FakeJudge):
        def ask(self, uri, question):
            if self.calls >= 5:
                raise JudgeError("judge went away")
            return super().ask(uri, question)

    with pytest.raises(JudgeError, match="went away"):
        run_judge(eval_prompts=questions, images=images, model_name="m", judge=Flaky(), judge_model="fake",
                  concurrency=1, progress=False)
    cache = tmp_path / "out" / "judge_fake" / "m" / "answers.jsonl"
    assert len(cache.read_text().splitlines()) == 5
    resumed = FakeJudge()
    run_judge(eval_prompts=questions, images=images, model_name="m", judge=resumed, judge_model="fake",
              progress=False)
    assert resumed.calls == sum(len(qa) for d, rows in DATA.items() if d != "text" for _, _, qa in rows) * 2 - 5


# --- mismatched files --------------------------------------------------------------------------------


def _testmini(data):
    """The same dimensions with fewer lines, as the official testmini split has."""
    return {dim: rows[:1] for dim, rows in data.items()}


def test_questions_of_another_split_are_refused_via_prompts(tmp_path):
    prompts, _ = make_tiif_data(tmp_path / "data", "test")
    _, mini_questions = make_tiif_data(tmp_path / "data", "testmini", _testmini(DATA))
    images = _images(tmp_path / "out", lines=1)
    with pytest.raises(InputError, match=r"do not match.*2d_spatial_relation: 3 prompts vs 1 question lines"):
        run_judge(eval_prompts=mini_questions, images=images, model_name="m", judge=FakeJudge(),
                  judge_model="fake", prompts=prompts, progress=False)


def test_questions_of_another_split_are_refused_via_the_run_record(tmp_path):
    _, mini_questions = make_tiif_data(tmp_path / "data", "testmini", _testmini(DATA))
    images = _images(tmp_path / "out", lines=1)
    record = {"tiif": {"prompt_files": {d: {"file": f"{d}_prompts.jsonl", "prompts": len(r)} for d, r in DATA.items()}}}
    (images / "tiif_run_m.json").write_text(json.dumps(record))
    judge = FakeJudge()
    with pytest.raises(InputError, match=r"run record tiif_run_m\.json.*negation: 2 prompts vs 1 question lines"):
        run_judge(eval_prompts=mini_questions, images=images, model_name="m", judge=judge, judge_model="fake",
                  progress=False)
    assert judge.calls == 0


def test_image_past_the_question_file_is_refused(tmp_path):
    _, mini_questions = make_tiif_data(tmp_path / "data", "testmini", _testmini(DATA))
    images = _images(tmp_path / "out")  # 3 lines of 2d_spatial_relation, questions for 1
    with pytest.raises(InputError, match="2d_spatial_relation: image 2 but 1 question lines"):
        run_judge(eval_prompts=mini_questions, images=images, model_name="m", judge=FakeJudge(),
                  judge_model="fake", progress=False)


def test_missing_dimension_and_bad_question_lines_are_refused(tmp_path):
    _, questions = make_tiif_data(tmp_path / "data")
    images = _images(tmp_path / "out")
    (questions / "style_eval_prompts.jsonl").unlink()
    with pytest.raises(InputError, match="dimension.*style have no question file"):
        run_judge(eval_prompts=questions, images=images, model_name="m", judge=FakeJudge(), judge_model="fake",
                  progress=False)
    (questions / "style_eval_prompts.jsonl").write_text(json.dumps(
        {"type": "style", "yn_question_list": ["Is it a painting?", "Is it blue?"], "yn_answer_list": ["yes"]}) + "\n")
    with pytest.raises(InputError, match="style_eval_prompts.jsonl:1: 2 questions but 1 answers"):
        run_judge(eval_prompts=questions, images=images, model_name="m", judge=FakeJudge(), judge_model="fake",
                  progress=False)
    make_tiif_data(tmp_path / "data")  # the good files back
    with pytest.raises(InputError, match="no images of model 'nobody'"):
        run_judge(eval_prompts=questions, images=images, model_name="nobody", judge=FakeJudge(),
                  judge_model="fake", progress=False)


# --- the HTTP client: retries with backoff, clear errors ----------------------------------------------


class _Server:
    """An OpenAI-shaped endpoint that fails the first `fail` requests with `status`, then answers 'Yes.'."""

    def __init__(self, fail: int, status: int):
        self.requests, self.bodies = 0, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests += 1
                outer.bodies.append(body)
                if outer.requests <= fail:
                    payload, code = {"error": {"message": "busy, try later", "type": "server_error"}}, status
                else:
                    payload, code = {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                                     "choices": [{"index": 0, "finish_reason": "stop",
                                                  "message": {"role": "assistant", "content": "Yes."}}]}, 200
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("retry-after-ms", "20")  # keeps the test fast; the client honours it
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_transient_errors_are_retried_then_answered():
    server = _Server(fail=2, status=503)
    try:
        judge = OpenAIJudge(server.url, "judge-x", max_retries=3, max_tokens=5)
        assert judge.ask("data:image/png;base64,AAAA", "Is there a cat?") == "Yes."
    finally:
        server.close()
    assert server.requests == 3
    body = server.bodies[-1]
    assert body["model"] == "judge-x" and body["max_tokens"] == 5 and body["temperature"] == 0.0
    (msg,) = body["messages"]
    image, text = msg["content"]
    assert image == {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    assert text == {"type": "text", "text": "Is there a cat? Answer yes or no."}


def test_retries_run_out_with_a_clear_error():
    server = _Server(fail=10, status=429)
    try:
        with pytest.raises(JudgeError, match=r"HTTP 429"):
            OpenAIJudge(server.url, "judge-x", max_retries=2).ask("data:image/png;base64,AAAA", "Q?")
    finally:
        server.close()
    assert server.requests == 3  # the first try and 2 retries


def test_a_refused_key_is_not_retried():
    server = _Server(fail=10, status=401)
    try:
        with pytest.raises(JudgeError, match="refused the API key"):
            OpenAIJudge(server.url, "judge-x", max_retries=3).ask("data:image/png;base64,AAAA", "Q?")
    finally:
        server.close()
    assert server.requests == 1


def test_an_unreachable_judge_is_named():
    judge = OpenAIJudge("http://127.0.0.1:9/v1", "judge-x", max_retries=0, timeout_s=5)
    with pytest.raises(JudgeError, match=r"cannot get an answer from the judge at http://127.0.0.1:9/v1"):
        judge.ask("data:image/png;base64,AAAA", "Q?")


# --- the command line ----------------------------------------------------------------------------------


def test_cli_refuses_mismatched_files_before_any_request(cli, tmp_path, capsys):
    prompts, _ = make_tiif_data(tmp_path / "data", "test")
    _, mini_questions = make_tiif_data(tmp_path / "data", "testmini", _testmini(DATA))
    images = _images(tmp_path / "out", model="tiny", lines=1)
    # Port 9 (discard) is never served: reaching for it would fail differently.
    code = cli(["eval", "tiif-judge", "--eval-prompts", str(mini_questions), "--images", str(images),
                "--model-name", "tiny", "--judge-url", "http://127.0.0.1:9/v1", "--judge-model", "j",
                "--prompts", str(prompts), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1
    assert err.startswith("uniimage eval: error: prompt and question files do not match (--prompts")
    assert "use the question folder of the same split" in err
    assert not (images / "judge_j").exists()


def test_cli_names_the_default_model_name_and_bad_counts(cli, tmp_path, capsys):
    from uniimage.evaluation.tiif.judge import default_out
    from uniimage.evaluation.tiif.sample import default_model_name

    assert default_model_name("TencentBAC/TBAC-UniImage-3B") == "TBAC-UniImage-3B"
    assert default_model_name("/ckpt/run 1/") == "run_1"
    assert default_out(tmp_path, "Qwen/Qwen2.5-VL-72B-Instruct") == tmp_path / "judge_Qwen_Qwen2.5-VL-72B-Instruct"
    code = cli(["eval", "tiif-judge", "--eval-prompts", str(tmp_path), "--images", str(tmp_path), "--model-name", "m",
                "--judge-url", "http://127.0.0.1:9/v1", "--judge-model", "j", "--concurrency", "0"])
    assert code == 1 and "--concurrency must be at least 1" in capsys.readouterr().err
