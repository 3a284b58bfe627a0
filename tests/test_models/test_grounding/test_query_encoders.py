"""Query encoders: the LSTM's last step, the simvtp text pass, loading."""
import pytest
import torch
from mmengine.registry import init_default_scope

import simvtp  # noqa: F401
from simvtp.models.grounding import LSTMQueryEncoder, SimVTPTextQueryEncoder

TINY_VIT = dict(type='UnifiedViT',
                arch=dict(embed_dims=16, num_layers=2, num_heads=2),
                img_size=16, patch_size=8, num_frames=4, vocab_size=30,
                max_text_len=12)


def test_lstm_takes_each_querys_last_real_token():
    torch.manual_seed(0)
    enc = LSTMQueryEncoder(vocab_size=30, embed_dims=5, hidden_dims=6,
                           num_layers=2)
    ids = torch.tensor([[2, 7, 9, 3, 0, 0], [2, 4, 5, 6, 8, 3]])
    mask = (ids > 0).long()
    out = enc(ids, mask)
    for b in range(2):  # independently: the unpadded query alone
        n = int(mask[b].sum())
        alone, _ = enc.lstm(enc.embedding(ids[b:b + 1, :n]))
        torch.testing.assert_close(out[b], alone[0, -1])


def test_lstm_word_vectors_from_a_glove_file(tmp_path, tiny_tokenizer_dir):
    glove = tmp_path / 'glove.txt'
    glove.write_text('red 1 2 3\nzebra 9 9 9\ncircle 0.5 0.5 0.5\n')
    enc = LSTMQueryEncoder(tokenizer=tiny_tokenizer_dir, embed_dims=3,
                           hidden_dims=4, num_layers=1,
                           word_vectors=str(glove),
                           freeze_word_vectors=True)
    enc.init_weights()
    from simvtp.datasets import load_tokenizer
    vocab = load_tokenizer(tiny_tokenizer_dir).get_vocab()
    assert enc.embedding.weight[vocab['red']].tolist() == [1, 2, 3]
    assert enc.embedding.weight[vocab['circle']].tolist() == [.5, .5, .5]
    assert not enc.embedding.weight.requires_grad
    bad = tmp_path / 'bad.txt'
    bad.write_text('red 1 2\n')
    enc = LSTMQueryEncoder(tokenizer=tiny_tokenizer_dir, embed_dims=3,
                           hidden_dims=4, word_vectors=str(bad))
    with pytest.raises(ValueError, match=r'bad.txt:1: .* 2 numbers'):
        enc.init_weights()


def test_simvtp_text_encoder_is_the_text_only_pass(tmp_path):
    init_default_scope('simvtp')
    torch.manual_seed(0)
    enc = SimVTPTextQueryEncoder(TINY_VIT)
    enc.init_weights()
    enc.eval()
    ids = torch.tensor([[2, 7, 9, 3, 0], [2, 4, 5, 6, 3]])
    mask = (ids > 0).long()
    vit = enc.encoder
    _, text = vit.encode(None, vit.embed_text(ids), mask)
    expected = torch.stack([text[0, :4].mean(0), text[1].mean(0)])
    torch.testing.assert_close(enc(ids, mask), expected)
    assert enc.out_dims == 16
    # frozen: no parameter of the encoder receives a gradient
    enc.train()
    assert not vit.training
    assert not any(p.requires_grad for p in vit.parameters())


def test_simvtp_text_encoder_loads_backbone_weights(tmp_path):
    init_default_scope('simvtp')
    torch.manual_seed(1)
    source = SimVTPTextQueryEncoder(TINY_VIT).encoder
    state = {f'backbone.{k}': v for k, v in source.state_dict().items()}
    state['vtm_head.fc.weight'] = torch.zeros(2, 16)
    path = tmp_path / 'epoch_1.pth'
    torch.save(dict(state_dict=state, meta=dict(epoch=1)), path)
    enc = SimVTPTextQueryEncoder(TINY_VIT, checkpoint=str(path))
    enc.init_weights()
    for k, v in source.state_dict().items():
        torch.testing.assert_close(enc.encoder.state_dict()[k], v)
    missing = SimVTPTextQueryEncoder(
        TINY_VIT, checkpoint=str(tmp_path / 'absent.pth'))
    with pytest.raises(FileNotFoundError,
                       match='absent.pth.*pretrain_synthetic.*'
                       'SIMVTP_PRETRAINED'):
        missing.init_weights()


def test_frozen_query_features_are_cached_and_invalidated():
    init_default_scope('simvtp')
    torch.manual_seed(0)
    enc = SimVTPTextQueryEncoder(TINY_VIT)
    enc.init_weights()
    enc.eval()
    ids = torch.tensor([[2, 7, 9, 3, 0], [2, 4, 5, 6, 3]])
    mask = (ids > 0).long()
    first = enc(ids, mask)
    assert len(enc._cache) == 2
    # the same query, padded differently and in another batch: from the
    # cache, equal to an uncached pass
    again = enc(ids[:1, :4], mask[:1, :4])
    assert again.data_ptr() != first.data_ptr()
    assert len(enc._cache) == 2
    torch.testing.assert_close(again, first[:1], rtol=0, atol=0)
    uncached = SimVTPTextQueryEncoder(TINY_VIT, cache=False)
    uncached.load_state_dict(enc.state_dict())
    uncached.eval()
    torch.testing.assert_close(uncached(ids[:1, :4], mask[:1, :4]),
                               first[:1], rtol=1e-5, atol=1e-6)
    # new weights empty the cache
    state = {k: v + 1 for k, v in enc.state_dict().items()}
    enc.load_state_dict(state)
    assert len(enc._cache) == 0
    assert not torch.allclose(enc(ids, mask), first)
