"""Query tokens: their own parameter, ids after the vocabulary, vocabulary rows untouched by training."""

import pytest
import torch

from uniimage.models.queries import QueryTokenEmbedding


def test_query_ids_follow_the_vocabulary(tiny_pipe):
    tok, model = tiny_pipe.processor.tokenizer, tiny_pipe.model
    n = model.config.num_metaqueries
    ids = tok.convert_tokens_to_ids([f"<|img{i}|>" for i in range(n)])
    assert ids == list(range(model.vocab_size, model.vocab_size + n))


def test_embedding_looks_up_queries_and_vocabulary():
    vocab = torch.nn.Embedding(10, 4)
    emb = QueryTokenEmbedding(vocab, 3)
    emb.reset_queries(torch.Generator().manual_seed(0))
    ids = torch.tensor([[1, 10, 12, 3]])
    out = emb(ids)
    torch.testing.assert_close(out[0, 0], vocab.weight[1])
    torch.testing.assert_close(out[0, 1], emb.queries[0])
    torch.testing.assert_close(out[0, 2], emb.queries[2])
    assert emb.weight is vocab.weight


def test_training_step_moves_queries_not_vocabulary(tiny_pipe):
    model = tiny_pipe.model
    vocab_before = model.query_embedding.weight.detach().clone()
    queries_before = model.queries.detach().clone()
    params = [model.queries, *model.connector.parameters()]
    opt = torch.optim.AdamW(params, lr=1e-2, weight_decay=0.05)
    inputs = tiny_pipe.processor.generation_inputs(["a red circle"], [[]])
    cond, _ = model.encode_condition(inputs.input_ids, inputs.attention_mask)
    cond.square().mean().backward()
    assert model.queries.grad is not None and model.queries.grad.abs().sum() > 0
    opt.step()
    opt.zero_grad()
    model.queries.grad = None
    assert torch.equal(model.query_embedding.weight, vocab_before)
    assert not torch.equal(model.queries, queries_before)
    with torch.no_grad():
        model.queries.copy_(queries_before)
    for p in model.connector.parameters():
        p.grad = None


def test_lm_head_is_the_vocabulary(tiny_pipe):
    model = tiny_pipe.model
    assert model.mllm.lm_head.weight is model.query_embedding.weight
    assert model.mllm.lm_head.weight.shape[0] == model.vocab_size


def test_queries_start_from_token_rows_cycled():
    vocab = torch.nn.Embedding(10, 4)
    emb = QueryTokenEmbedding(vocab, 5)
    emb.init_queries_from_tokens([7, 2])
    for i, token in enumerate([7, 2, 7, 2, 7]):
        assert torch.equal(emb.queries[i], vocab.weight[token])
    assert emb.queries.data_ptr() != vocab.weight.data_ptr()  # a copy: training the queries leaves the row


def test_query_token_init_rejects_bad_ids():
    emb = QueryTokenEmbedding(torch.nn.Embedding(10, 4), 2)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        emb.init_queries_from_tokens([3, 10])
    with pytest.raises(ValueError, match="at least one token"):
        emb.init_queries_from_tokens([])


def test_query_gradients_are_bit_identical_with_threads():
    # Every prompt row holds every query id, so their gradients are sums over rows. Indexing's backward
    # (`queries[ids]`) adds them with atomic adds over CPU threads: a different order, and bits, each call.
    vocab = torch.nn.Embedding(50, 256)
    emb = QueryTokenEmbedding(vocab, 64)
    emb.reset_queries(torch.Generator().manual_seed(0))
    ids = torch.cat([torch.arange(50, 114).repeat(16, 1), torch.randint(0, 50, (16, 30))], 1)
    upstream = torch.randn(16, 94, 256, generator=torch.Generator().manual_seed(1))
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        grads = []
        for _ in range(40):
            emb.queries.grad = None
            emb(ids).backward(upstream)
            grads.append(emb.queries.grad.clone())
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(g, grads[0]) for g in grads)
    assert torch.allclose(grads[0][5], upstream[:, 5].sum(0), atol=1e-4)  # query 5 sits at column 5 of every row
