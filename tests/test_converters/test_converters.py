"""Checkpoint converters: layouts, round trips, reports, safe loading, CLIs."""
import argparse
import os
import os.path as osp
import textwrap

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope

import simvtp  # noqa: F401
from tests.tiny_model import tiny_simvtp_cfg
from tests.tool_loader import import_tool
from simvtp.checkpoint import (ConversionError, bert_to_simvtp,
                                      fuse_qkv_bias, load_source,
                                      mmaction_vit_to_simvtp,
                                      msrvtt_finetuned_to_simvtp,
                                      reference_to_simvtp,
                                      simvtp_to_reference, split_qkv_bias,
                                      videomae_to_simvtp)
from simvtp.registry import MODELS
from simvtp.utils import UnsafeCheckpointError

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
D, DD, V, MAXLEN, T, S, P = 32, 16, 40, 16, 4, 32, 16


def tool(name):
    return import_tool('model_converters', name)


def tiny_model_cfg(**kwargs):
    kwargs.setdefault('vtc_head', dict(type='VTCHead',
                                       learnable_temperature=False,
                                       temperature=0.05))
    return tiny_simvtp_cfg(dims=D, mlp_ratio=4, frames=T, size=S, patch=P,
                           vocab=V, max_text_len=MAXLEN, dec_dims=DD,
                           **kwargs)


def build_tiny(seed=0, **kwargs):
    init_default_scope('simvtp')
    torch.manual_seed(seed)
    model = MODELS.build(tiny_model_cfg(**kwargs))
    model.init_weights()
    with torch.no_grad():  # make every tensor distinctive (biases too)
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model


def write_tiny_config(path):
    path.write_text(textwrap.dedent(f"""
        default_scope = 'simvtp'
        model = {tiny_model_cfg()!r}
    """))
    return str(path)


def rand_block(prefix, dim, out, g, fused=False, renames=None):
    names = {'norm1.weight': (dim, ), 'norm1.bias': (dim, ),
             'attn.qkv.weight': (3 * dim, dim), 'attn.proj.weight': (dim, dim),
             'attn.proj.bias': (dim, ), 'norm2.weight': (dim, ),
             'norm2.bias': (dim, ), 'mlp.fc1.weight': (4 * dim, dim),
             'mlp.fc1.bias': (4 * dim, ), 'mlp.fc2.weight': (dim, 4 * dim),
             'mlp.fc2.bias': (dim, )}
    if fused:
        names['attn.qkv.bias'] = (3 * dim, )
    else:
        names['attn.q_bias'] = (dim, )
        names['attn.v_bias'] = (dim, )
    for name, shape in names.items():
        out[prefix + (renames or {}).get(name, name)] = torch.randn(
            *shape, generator=g)
    if fused:
        out[prefix + 'attn.qkv.bias'][dim:2 * dim] = 0


# ----------------------------------------------------------- reference layout
def test_simvtp_reference_simvtp_round_trip_is_identity():
    state = build_tiny().state_dict()
    ref, rep1 = simvtp_to_reference({'state_dict': state, 'meta': {}})
    assert rep1.clean, rep1.summary()
    # exactly the authors' key names
    assert 'encoder.blocks.1.attn.q_bias' in ref and 'text_cls.weight' in ref
    assert 'vtm_head.weight' in ref and 'mask_token' in ref
    assert 'encoder_to_decoder.weight' in ref
    assert not any(k.startswith(('backbone.', 'video_decoder.')) for k in ref)
    back, rep2 = reference_to_simvtp({'model': ref})
    assert rep2.clean, rep2.summary()
    assert set(back) == set(state)
    for key in state:
        assert torch.equal(back[key], state[key]), key


def test_reverse_reports_what_the_reference_cannot_hold():
    model = build_tiny(vtc_head=dict(type='VTCHead', temperature=0.07,
                                     proj_dims=8),
                       drop_masked_text=True)
    ref, report = simvtp_to_reference(model.state_dict())
    assert 'vtc_head.video_proj.weight' in report.unexpected
    assert 'text_decoder.mask_token' in report.unexpected
    assert any('temperature' in m for m in report.lossy)
    with pytest.raises(ConversionError, match='text_decoder.mask_token'):
        report.check(strict=True)


def test_unknown_source_keys_are_listed_not_dropped():
    ref, _ = simvtp_to_reference(build_tiny().state_dict())
    ref['encoder.cls_token'] = torch.zeros(1, 1, D)
    ref['some_extra.weight'] = torch.zeros(3)
    state, report = reference_to_simvtp({'model': ref})
    assert set(report.unexpected) == {'encoder.cls_token',
                                      'some_extra.weight'}
    assert 'encoder.cls_token' not in state
    assert 'unexpected (unknown source keys' in report.summary()
    assert 'encoder.cls_token' in report.summary()
    with pytest.raises(ConversionError):
        report.check(strict=True)


def test_missing_block_tensors_are_reported():
    ref, _ = simvtp_to_reference(build_tiny().state_dict())
    del ref['encoder.blocks.1.mlp.fc2.bias']
    del ref['mask_token']
    _, report = reference_to_simvtp(ref)
    assert set(report.missing) == {'backbone.blocks.1.mlp.fc2.bias',
                                   'video_decoder.mask_token'}


# ------------------------------------------------------------ qkv bias layouts
def test_qkv_bias_split_and_fuse():
    q, v = torch.randn(8), torch.randn(8)
    fused = fuse_qkv_bias(q, v)
    assert torch.equal(fused, torch.cat([q, torch.zeros(8), v]))
    q2, v2 = split_qkv_bias(fused)
    assert torch.equal(q2, q) and torch.equal(v2, v)
    bad = fused.clone()
    bad[10] = 0.5
    with pytest.raises(ConversionError, match='key part'):
        split_qkv_bias(bad)


def test_fused_bias_source_matches_the_attention_function():
    """A block stored with a fused qkv.bias computes the same attention."""
    from simvtp.models.layers.transformer import Attention
    g = torch.Generator().manual_seed(0)
    src = {}
    rand_block('encoder.blocks.0.', D, src, g, fused=True)
    ref, _ = simvtp_to_reference(build_tiny().state_dict())
    ref = {k: v for k, v in ref.items()
           if not k.startswith('encoder.blocks.0.')}
    ref.update(src)
    state, report = reference_to_simvtp(ref)
    assert report.clean, report.summary()
    attn = Attention(D, num_heads=2, attn_impl='math')
    attn.load_state_dict({k[len('backbone.blocks.0.attn.'):]: v
                          for k, v in state.items()
                          if k.startswith('backbone.blocks.0.attn.')})
    x = torch.randn(2, 5, D, generator=g)
    qkv = F.linear(x, src['encoder.blocks.0.attn.qkv.weight'],
                   src['encoder.blocks.0.attn.qkv.bias'])
    q, k, v = qkv.view(2, 5, 3, 2, D // 2).permute(2, 0, 3, 1, 4)
    probs = ((q @ k.transpose(-1, -2)) / (D // 2)**0.5).softmax(-1)
    expected = F.linear((probs @ v).transpose(1, 2).reshape(2, 5, D),
                        src['encoder.blocks.0.attn.proj.weight'],
                        src['encoder.blocks.0.attn.proj.bias'])
    torch.testing.assert_close(attn(x), expected, rtol=1e-5, atol=1e-5)


def test_nonzero_key_bias_is_lossy():
    ref, _ = simvtp_to_reference(build_tiny().state_dict(), qkv_bias='fused')
    assert 'encoder.blocks.0.attn.qkv.bias' in ref
    assert 'encoder.blocks.0.attn.q_bias' not in ref
    back, report = reference_to_simvtp(ref)
    assert report.clean  # zero key bias: lossless
    ref['encoder.blocks.0.attn.qkv.bias'][D + 3] = 0.25
    _, report = reference_to_simvtp(ref)
    assert len(report.lossy) == 1 and 'encoder.blocks.0.attn.qkv.bias' in \
        report.lossy[0]


def test_fused_round_trip_is_identity():
    state = build_tiny().state_dict()
    ref, _ = simvtp_to_reference(state, qkv_bias='fused')
    back, _ = reference_to_simvtp(ref)
    assert set(back) == set(state)
    for key in state:
        assert torch.equal(back[key], state[key]), key


# -------------------------------------------------------------------- HF BERT
def tiny_bert(kind='mlm'):
    from transformers import BertConfig, BertForMaskedLM, BertModel
    cfg = BertConfig(vocab_size=V, hidden_size=D, num_hidden_layers=1,
                     num_attention_heads=2, intermediate_size=64,
                     max_position_embeddings=64)
    torch.manual_seed(0)
    return (BertForMaskedLM if kind == 'mlm' else BertModel)(cfg).eval()


@pytest.mark.parametrize('safe', [True, False])
def test_bert_folder_to_text_embeddings(tmp_path, safe):
    bert = tiny_bert()
    bert.save_pretrained(tmp_path, safe_serialization=safe)
    state, report = bert_to_simvtp(str(tmp_path), max_text_len=MAXLEN)
    assert report.clean, report.summary()
    assert report.source.endswith('model.safetensors' if safe
                                  else 'pytorch_model.bin')
    assert set(state) == {f'backbone.text_embeddings.{n}' for n in (
        'word_embeddings.weight', 'position_embeddings.weight',
        'token_type_embeddings.weight', 'LayerNorm.weight', 'LayerNorm.bias')}
    assert any(k.startswith('bert.encoder.layer.0.')
               for k in report.dropped)
    # functionally: simvtp's embeddings == BERT's on the same ids
    model = build_tiny()
    model.load_state_dict(state, strict=False)
    model.eval()
    ids = torch.tensor([[2, 7, 9, 11, 3, 0]])
    with torch.no_grad():
        expected = bert.bert.embeddings(input_ids=ids)
        got = model.backbone.embed_text(ids)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_bert_model_state_dict_and_position_ids_note():
    bert = tiny_bert('base')
    sd = dict(bert.state_dict())
    sd['embeddings.position_ids'] = torch.arange(64)[None]
    state, report = bert_to_simvtp(sd)
    assert report.clean
    assert 'embeddings.position_ids' in report.dropped
    assert 'recomputes' in report.dropped['embeddings.position_ids']
    word = 'backbone.text_embeddings.word_embeddings.weight'
    assert torch.equal(state[word], sd['embeddings.word_embeddings.weight'])
    assert state['backbone.text_embeddings.position_embeddings.weight'] \
        .shape == (64, D)
    with pytest.raises(ConversionError, match='no BERT embeddings'):
        bert_to_simvtp({'foo.weight': torch.zeros(2)})


# ------------------------------------------------------ VideoMAE / mmaction2
def videomae_pretrain_state(g):
    sd = {'encoder.patch_embed.proj.weight': torch.randn(D, 3, 2, P, P,
                                                         generator=g),
          'encoder.patch_embed.proj.bias': torch.randn(D, generator=g),
          'encoder.norm.weight': torch.randn(D, generator=g),
          'encoder.norm.bias': torch.randn(D, generator=g),
          'decoder.norm.weight': torch.randn(DD, generator=g),
          'decoder.norm.bias': torch.randn(DD, generator=g),
          'decoder.head.weight': torch.randn(3 * 2 * P * P, DD, generator=g),
          'decoder.head.bias': torch.randn(3 * 2 * P * P, generator=g),
          'encoder_to_decoder.weight': torch.randn(DD, D, generator=g),
          'mask_token': torch.randn(1, 1, DD, generator=g)}
    for i in range(2):
        rand_block(f'encoder.blocks.{i}.', D, sd, g)
    rand_block('decoder.blocks.0.', DD, sd, g)
    return sd


def test_videomae_pretrain_to_backbone_and_decoder():
    g = torch.Generator().manual_seed(1)
    sd = videomae_pretrain_state(g)
    ckpt = dict(model=sd, optimizer={}, epoch=1599, scaler={},
                args=argparse.Namespace(model='pretrain_videomae_base'))
    state, report = videomae_to_simvtp(ckpt)
    assert report.source_format == 'videomae-pretrain'
    assert report.clean, report.summary()
    assert torch.equal(state['video_decoder.mask_token'], sd['mask_token'])
    assert torch.equal(state['video_decoder.encoder_to_decoder.weight'],
                       sd['encoder_to_decoder.weight'])
    assert torch.equal(state['backbone.blocks.1.attn.v_bias'],
                       sd['encoder.blocks.1.attn.v_bias'])
    model = build_tiny()
    result = model.load_state_dict(state, strict=False)
    assert result.unexpected_keys == []
    assert all(k.startswith(('backbone.text_embeddings.', 'text_decoder.',
                             'vtm_head.', 'vtc_head.'))
               for k in result.missing_keys)
    assert any('bert_to_simvtp' in n for n in report.notes)


def test_videomae_finetune_layout():
    g = torch.Generator().manual_seed(2)
    sd = {'patch_embed.proj.weight': torch.randn(D, 3, 2, P, P, generator=g),
          'patch_embed.proj.bias': torch.randn(D, generator=g),
          'fc_norm.weight': torch.randn(D, generator=g),
          'fc_norm.bias': torch.randn(D, generator=g),
          'head.weight': torch.randn(400, D, generator=g),
          'head.bias': torch.randn(400, generator=g)}
    rand_block('blocks.0.', D, sd, g)
    state, report = videomae_to_simvtp({'module': sd})
    assert report.source_format == 'videomae-finetune'
    assert 'head.weight' in report.dropped and 'fc_norm.weight' in \
        report.dropped
    assert set(report.missing) == {'backbone.norm.weight',
                                   'backbone.norm.bias'}
    assert report.unexpected == {}
    assert 'backbone.blocks.0.attn.qkv.weight' in state


@pytest.mark.parametrize('mean_pooling', [False, True])
def test_mmaction_vit_matches_mmaction_features(mean_pooling):
    from mmaction.models.backbones.vit_mae import VisionTransformer
    torch.manual_seed(0)
    vit = VisionTransformer(img_size=S, patch_size=P, embed_dims=D, depth=2,
                            num_heads=2, num_frames=T,
                            use_mean_pooling=mean_pooling).eval()
    with torch.no_grad():
        for name, p in vit.named_parameters():
            p.add_(torch.randn_like(p) * 0.1)
    ckpt = dict(state_dict={**{f'backbone.{k}': v
                               for k, v in vit.state_dict().items()},
                            'cls_head.fc_cls.weight': torch.zeros(5, D),
                            'cls_head.fc_cls.bias': torch.zeros(5)},
                meta=dict(epoch=35))
    state, report = mmaction_vit_to_simvtp(ckpt)
    assert report.unexpected == {}
    assert 'backbone.pos_embed' in report.dropped  # equals the sin-cos table
    assert 'cls_head.fc_cls.weight' in report.dropped
    assert torch.equal(state['backbone.blocks.1.mlp.fc1.weight'],
                       vit.blocks[1].mlp.layers[0][0].weight)
    assert torch.equal(state['backbone.patch_embed.proj.weight'],
                       vit.patch_embed.projection.weight)
    if mean_pooling:
        assert report.lossy and 'backbone.norm.weight' in report.missing
        return
    assert report.clean, report.summary()
    model = build_tiny()
    model.load_state_dict(state, strict=False)
    model.eval()
    video = torch.randn(2, 3, T, S, S)
    with torch.no_grad():
        expected = vit(video)  # norm(blocks(x))[:, 0]
        tokens, _ = model.backbone(video=video)
    torch.testing.assert_close(tokens[:, 0], expected, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------- MSR-VTT finetuned
def finetuned_state(g, same_blocks=False):
    sd = {}
    for tower in ('video_encoder.', 'text_encoder.'):
        sd[tower + 'patch_embed.proj.weight'] = torch.randn(D, 3, 2, P, P,
                                                            generator=g)
        sd[tower + 'patch_embed.proj.bias'] = torch.randn(D, generator=g)
        for name, shape in (('word_embeddings.weight', (V, D)),
                            ('position_embeddings.weight', (MAXLEN, D)),
                            ('token_type_embeddings.weight', (2, D)),
                            ('LayerNorm.weight', (D, )),
                            ('LayerNorm.bias', (D, ))):
            sd[tower + 'text_embeddings.' + name] = torch.randn(*shape,
                                                                generator=g)
        sd[tower + 'text_embeddings.position_ids'] = torch.arange(MAXLEN)[None]
        sd[tower + 'fc_norm.weight'] = torch.randn(D, generator=g)
        sd[tower + 'fc_norm.bias'] = torch.randn(D, generator=g)
        for i in range(2):
            rand_block(f'{tower}blocks.{i}.', D, sd, g)
    if same_blocks:
        for k in list(sd):
            if k.startswith('text_encoder.blocks.'):
                sd[k] = sd['video_encoder.' + k[len('text_encoder.'):]].clone()
    return sd


def test_msrvtt_finetuned_reports_towers():
    sd = finetuned_state(torch.Generator().manual_seed(3))
    state, report = msrvtt_finetuned_to_simvtp({'module': sd}, tower='video')
    assert torch.equal(state['backbone.patch_embed.proj.weight'],
                       sd['video_encoder.patch_embed.proj.weight'])
    assert torch.equal(
        state['backbone.text_embeddings.word_embeddings.weight'],
        sd['text_encoder.text_embeddings.word_embeddings.weight'])
    assert torch.equal(state['backbone.blocks.1.attn.qkv.weight'],
                       sd['video_encoder.blocks.1.attn.qkv.weight'])
    assert report.unexpected == {}
    dropped = report.dropped
    assert 'never embeds video' in dropped[
        'text_encoder.patch_embed.proj.weight']
    assert 'never embeds text' in dropped[
        'video_encoder.text_embeddings.word_embeddings.weight']
    assert 'text_encoder.blocks.0.norm1.weight' in dropped
    assert any('text_encoder.blocks differ' in m for m in report.lossy)
    assert any('fc_norm' in m for m in report.lossy)
    assert set(report.missing) == {'backbone.norm.weight',
                                   'backbone.norm.bias'}
    # every source key is accounted for
    assert {s for s, _ in report.converted} | set(dropped) == set(sd)

    text_state, _ = msrvtt_finetuned_to_simvtp(sd, tower='text',
                                               fc_norm_as_norm=True)
    assert torch.equal(text_state['backbone.blocks.0.mlp.fc1.weight'],
                       sd['text_encoder.blocks.0.mlp.fc1.weight'])
    assert torch.equal(text_state['backbone.norm.weight'],
                       sd['text_encoder.fc_norm.weight'])


def test_msrvtt_shared_blocks_are_not_lossy():
    sd = finetuned_state(torch.Generator().manual_seed(4), same_blocks=True)
    _, report = msrvtt_finetuned_to_simvtp({'model': sd})
    assert not any('blocks differ' in m for m in report.lossy)
    assert 'shared' in report.dropped['text_encoder.blocks.0.norm1.weight']


# ------------------------------------------------------------- safe loading
class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


@pytest.mark.parametrize('name', [
    'reference_to_simvtp', 'simvtp_to_reference', 'videomae_to_simvtp',
    'mmaction2_vit_to_simvtp', 'msrvtt_finetuned_to_simvtp',
    'bert_to_simvtp'])
def test_crafted_checkpoint_is_refused(tmp_path, capsys, name):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'model': {'w': torch.zeros(1)}, 'x': _Exploit(marker)}, path)
    with pytest.raises(UnsafeCheckpointError, match='system'):
        load_source(str(path), reference_globals=True)
    out = tmp_path / 'out.pth'
    assert tool(name).main([str(path), str(out)]) == 2
    err = capsys.readouterr().err
    assert 'refused to load' in err and 'system' in err
    assert not marker.exists() and not out.exists()


# ------------------------------------------------------------------ the CLIs
def test_cli_round_trip_strict_and_mmengine_loading(tmp_path, capsys):
    from mmengine.runner import load_checkpoint
    model = build_tiny()
    src = tmp_path / 'epoch_1.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(epoch=1),
                    optimizer=dict(state={}, param_groups=[])), src)
    ref = tmp_path / 'checkpoint-ref.pth'
    assert tool('simvtp_to_reference').main(
        [str(src), str(ref), '--strict']) == 0
    saved = torch.load(ref, weights_only=True)
    assert 'encoder.norm.weight' in saved['model']
    cfg = write_tiny_config(tmp_path / 'tiny.py')
    back = tmp_path / 'simvtp.pth'
    assert tool('reference_to_simvtp').main(
        [str(ref), str(back), '--strict', '--config', cfg]) == 0
    out = capsys.readouterr().out
    assert 'result: clean' in out and 'saved' in out
    # loads like load_from / init_cfg Pretrained does
    fresh = build_tiny(seed=1)
    load_checkpoint(fresh, str(back), strict=True)
    for key, value in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value), key
    meta = torch.load(back, weights_only=True)['meta']
    assert meta['converted_by'] == 'reference_to_simvtp'
    # --strict refuses an unexpected key and writes nothing
    bad = torch.load(ref, weights_only=True)
    bad['model']['encoder.extra'] = torch.zeros(1)
    torch.save(bad, tmp_path / 'bad.pth')
    target = tmp_path / 'never.pth'
    assert tool('reference_to_simvtp').main(
        [str(tmp_path / 'bad.pth'), str(target), '--strict']) == 1
    assert not target.exists()
    assert 'encoder.extra' in capsys.readouterr().err
    assert tool('reference_to_simvtp').main(
        [str(tmp_path / 'bad.pth'), str(target)]) == 0
    assert target.exists()


def test_cli_videomae_plus_bert_initialisation(tmp_path, capsys):
    """The paper's initialisation: VideoMAE encoder/decoder + BERT text."""
    sd = videomae_pretrain_state(torch.Generator().manual_seed(5))
    torch.save(dict(model=sd, args=argparse.Namespace(model='x')),
               tmp_path / 'videomae.pth')
    bert_dir = tmp_path / 'bert'
    tiny_bert().save_pretrained(bert_dir)
    cfg = write_tiny_config(tmp_path / 'tiny.py')
    init1, init2 = tmp_path / 'init_video.pth', tmp_path / 'init.pth'
    assert tool('videomae_to_simvtp').main(
        [str(tmp_path / 'videomae.pth'), str(init1)]) == 0
    capsys.readouterr()
    assert tool('bert_to_simvtp').main(
        [str(bert_dir), str(init2), '--base', str(init1), '--max-text-len',
         str(MAXLEN), '--config', cfg]) == 0
    out = capsys.readouterr().out
    state = torch.load(init2, weights_only=True)['state_dict']
    assert 'backbone.blocks.0.attn.q_bias' in state
    assert 'backbone.text_embeddings.word_embeddings.weight' in state
    # against the config only the randomly initialised heads remain missing
    missing = out.split('missing (target keys not provided): ')[1]
    assert missing.startswith('5\n'), out
    for key in ('text_decoder.head', 'vtm_head.fc', 'vtc_head.logit_scale'):
        assert key in missing.split('unexpected')[0]
