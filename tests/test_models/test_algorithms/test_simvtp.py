"""The SimVTP algorithm: objectives, gradient flow, equivalences, predict."""
import pytest
import torch
from mmengine.registry import init_default_scope

import simvtp  # noqa: F401
from simvtp.models.layers.tokens import gather_visible
from simvtp.registry import MODELS
from tests.tiny_model import build_tiny

B, T, S, P = 4, 4, 32, 16  # clips, frames, pixels, patch
N = (T // 2) * (S // P) ** 2  # 8 tubes
VOCAB = 40


def build(**kwargs):
    return build_tiny(seed=None, vocab=VOCAB, size=S, patch=P, frames=T,
                      **kwargs)


def make_batch(seed=0, lengths=(6, 5, 4, 6), pad_to=None):
    g = torch.Generator().manual_seed(seed)
    samples = []
    for i in range(B):
        n = lengths[i]
        ids = torch.randint(5, VOCAB, (n, ), generator=g)
        ids[0], ids[-1] = 2, 3  # [CLS] ... [SEP]
        labels = torch.full((n, ), -100)
        labels[1] = ids[1]
        masked = ids.clone()
        masked[1] = 4  # [MASK]
        mask = torch.zeros(N, dtype=torch.bool)
        cells = torch.randperm(4, generator=g)[:2]
        for t in range(T // 2):
            mask[t * 4 + cells] = True
        samples.append(dict(
            video=torch.randint(0, 256, (3, T, S, S), dtype=torch.uint8,
                                generator=g),
            video_mask=mask, input_ids=masked, input_ids_unmasked=ids,
            attention_mask=torch.ones(n, dtype=torch.long),
            mlm_labels=labels))
    return dict(inputs=samples, data_samples=None)


def losses_of(model, batch, seed=0):
    data = model.data_preprocessor(batch, True)
    torch.manual_seed(seed)  # same VTM negatives across calls
    return model(**data, mode='loss')


def total(losses):
    return sum(v for k, v in losses.items() if 'loss' in k)


@pytest.mark.parametrize('objectives', [('msm', ), ('vtc', ), ('vtm', ),
                                        ('msm', 'vtc', 'vtm')])
def test_gradients_reach_every_parameter_of_selected_objectives(objectives):
    model = build(objectives=objectives)
    losses = losses_of(model, make_batch())
    expected = {'msm': {'loss_video', 'loss_text'}, 'vtc': {'loss_vtc'},
                'vtm': {'loss_vtm'}}
    keys = {k for k in losses if k.startswith('loss')}
    assert keys == set().union(*(expected[o] for o in objectives))
    total(losses).backward()
    missing = [n for n, p in model.named_parameters()
               if p.grad is None or not p.grad.abs().sum() > 0]
    # word embeddings of ids absent from the batch get no gradient, but
    # the table as a whole does; all other parameters must get one
    assert missing == []
    if 'msm' not in objectives:
        assert model.video_decoder is None and model.text_decoder is None


def test_unknown_objective_names_the_key():
    with pytest.raises(ValueError, match=r"model.objectives.*'mlm'"):
        build(objectives=('msm', 'mlm'))


@pytest.mark.parametrize('drop_masked_text', [False, True])
def test_vtm_positive_reuse_equals_reencoding(drop_masked_text):
    """The paper's reuse of joint features (SimVTP) equals the reference's
    2B pass (ReferenceFlowSimVTP); with drop_masked_text the negatives hide
    the [MASK] keys as the positives do (otherwise VTM could tell pairs
    apart by attention)."""
    torch.manual_seed(0)
    reuse = build(drop_masked_text=drop_masked_text).eval()
    again = build(type='ReferenceFlowSimVTP',
                  drop_masked_text=drop_masked_text).eval()
    again.load_state_dict(reuse.state_dict())
    negatives = torch.tensor([2, 0, 3, 1])
    reuse.vtm_head.sample_negatives = lambda *a, **k: negatives
    again.sample_negatives_loop = lambda *a, **k: negatives
    batch = make_batch()
    a, b = losses_of(reuse, batch), losses_of(again, batch)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)


def test_padding_does_not_change_losses():
    """Pooling and attention exclude padding: extra padding is invisible."""
    model = build(objectives=('msm', 'vtc')).eval()
    batch = make_batch()
    base = losses_of(model, batch)
    padded = make_batch()
    for s in padded['inputs']:  # pad every caption with 5 more [PAD]s
        for key, value in (('input_ids', 0), ('input_ids_unmasked', 0),
                           ('attention_mask', 0), ('mlm_labels', -100)):
            s[key] = torch.cat([s[key], torch.full((5, ), value)])
    longer = losses_of(model, padded)
    for key in base:
        torch.testing.assert_close(base[key], longer[key], rtol=1e-5,
                                   atol=1e-6)


def test_reference_pooling_includes_padding():
    model = build(objectives=('vtc', ), pooling='mean_with_padding').eval()
    batch = make_batch()
    padded = make_batch()
    for s in padded['inputs']:
        for key, value in (('input_ids', 0), ('input_ids_unmasked', 0),
                           ('attention_mask', 0), ('mlm_labels', -100)):
            s[key] = torch.cat([s[key], torch.full((5, ), value)])
    assert not torch.allclose(losses_of(model, batch)['loss_vtc'],
                              losses_of(model, padded)['loss_vtc'])


def vtc_loss_of_passes(model, inputs, video_tokens):
    """VTC computed independently: a video-only pass over ``video_tokens``
    (B, N, D) and a text-only pass, each mean-pooled over real tokens."""
    bb = model.backbone
    v_only, _ = bb.encode(video_tokens)
    _, t_only = bb.encode(None, bb.embed_text(inputs['input_ids']),
                          inputs['attention_mask'])
    am = inputs['attention_mask'].unsqueeze(-1).float()
    t_feat = (t_only * am).sum(1) / am.sum(1)
    return model.vtc_head.loss(v_only.mean(1), t_feat)['loss_vtc']


def test_vtc_uses_video_only_and_text_only_passes():
    """loss_vtc equals the head applied to independently pooled features."""
    model = build(objectives=('vtc', )).eval()
    data = model.data_preprocessor(make_batch(), True)
    inputs = data['inputs']
    bb = model.backbone
    vis = gather_visible(bb.embed_video(inputs['video']), inputs['video_mask'])
    expected = vtc_loss_of_passes(model, inputs, vis)
    got = model(**data, mode='loss')['loss_vtc']
    torch.testing.assert_close(got, expected)


def test_unmasked_vtc_text_uses_original_ids():
    masked = build(objectives=('vtc', ), vtc_text='masked').eval()
    unmasked = build(objectives=('vtc', ), vtc_text='unmasked').eval()
    unmasked.load_state_dict(masked.state_dict())
    batch = make_batch()
    assert not torch.allclose(losses_of(masked, batch)['loss_vtc'],
                              losses_of(unmasked, batch)['loss_vtc'])


def test_unmasked_vtc_video_contrasts_every_tube_of_the_clip():
    """vtc_video='unmasked': the video-only pass reads the whole clip (as
    retrieval does at test); the joint and VTM passes keep the mask."""
    model = build(objectives=('vtc', ), vtc_video='unmasked').eval()
    data = model.data_preprocessor(make_batch(), True)
    inputs = data['inputs']
    expected = vtc_loss_of_passes(
        model, inputs, model.backbone.embed_video(inputs['video']))
    got = model(**data, mode='loss')['loss_vtc']
    torch.testing.assert_close(got, expected)
    masked = build(objectives=('vtc', )).eval()
    masked.load_state_dict(model.state_dict())
    assert not torch.allclose(masked(**data, mode='loss')['loss_vtc'], got)
    with pytest.raises(ValueError, match='model.vtc_video must be one of'):
        build(vtc_video='visible')


def test_drop_masked_text_equals_removing_masked_tokens():
    """Hiding [MASK] keys == encoding the sequence without those tokens."""
    model = build(drop_masked_text=True, objectives=('msm', )).eval()
    data = model.data_preprocessor(make_batch(lengths=(6, 6, 6, 6)), True)
    inputs = data['inputs']
    bb = model.backbone
    vis = gather_visible(bb.embed_video(inputs['video']), inputs['video_mask'])
    text = bb.embed_text(inputs['input_ids'])
    v_out, t_out = bb.encode(vis, text, model._text_keys(inputs, True))
    keep = inputs['mlm_labels'][0] == -100  # same positions in every sample
    v_ref, t_ref = bb.encode(vis, text[:, keep])
    torch.testing.assert_close(v_out, v_ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(t_out[:, keep], t_ref, rtol=1e-5, atol=1e-5)
    losses = model(**data, mode='loss')
    total(losses).backward()
    assert model.text_decoder.mask_token.grad.abs().sum() > 0


def test_shared_decoder_option():
    model = build(shared_decoder=dict(type='SharedVideoTextDecoder',
                                      in_dims=32, vocab_size=VOCAB,
                                      patch_size=P, embed_dims=16, depth=1,
                                      num_heads=1))
    assert model.video_decoder is None and model.shared_decoder is not None
    losses = losses_of(model, make_batch())
    total(losses).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_hard_negatives_option_trains():
    model = build(vtm_head=dict(type='VTMHead', negative='hard'))
    losses = losses_of(model, make_batch())
    assert torch.isfinite(total(losses))


def test_predict_returns_features_and_reconstruction():
    model = build().eval()
    batch = make_batch()
    data = model.data_preprocessor(batch, False)
    out = model(**data, mode='predict')
    assert len(out) == B
    assert out[0].features.video_feature.shape == (32, )
    assert out[0].features.text_feature.shape == (32, )
    rec = out[0].reconstruction
    assert rec.shape == (3, T, S, S)
    assert rec.min() >= 0 and rec.max() <= 1
    # visible tubes are the input pixels; the masked video blanks hidden ones
    pixels = batch['inputs'][0]['video'].float() / 255
    mask = batch['inputs'][0]['video_mask'].view(T // 2, S // P, S // P)
    vis = (~mask).repeat_interleave(2, 0).repeat_interleave(P, 1) \
        .repeat_interleave(P, 2)
    torch.testing.assert_close(rec[:, vis], pixels[:, vis], atol=1e-5,
                               rtol=0)
    assert out[0].masked_video[:, ~vis].abs().max() == 0
    # predicted words: inputs kept where not masked
    pred = out[0].pred_ids
    ids = batch['inputs'][0]['input_ids']
    labels = batch['inputs'][0]['mlm_labels']
    keep = labels == -100
    assert torch.equal(pred[:len(ids)][keep], ids[keep])


def test_retrieval_features_do_not_depend_on_the_other_modality():
    model = build().eval()
    batch = make_batch(lengths=(6, 6, 6, 6))
    data = model.data_preprocessor(batch, False)
    a = model.extract_features(data['inputs'])
    data['inputs']['input_ids_unmasked'] = torch.flip(
        data['inputs']['input_ids_unmasked'], [0])
    b = model.extract_features(data['inputs'])
    torch.testing.assert_close(a['video_feature'], b['video_feature'])
    torch.testing.assert_close(a['text_feature'], b['text_feature'].flip(0))


def test_predict_matches_training_inputs_with_drop_masked_text():
    """predict's word logits come from the same joint pass as the loss."""
    model = build(drop_masked_text=True, objectives=('msm', )).eval()
    data = model.data_preprocessor(make_batch(lengths=(6, 6, 6, 6)), False)
    inputs = data['inputs']
    out = model(**data, mode='predict')
    bb = model.backbone
    vis = gather_visible(bb.embed_video(inputs['video']), inputs['video_mask'])
    keep = inputs['mlm_labels'][0] == -100
    # independent: encode without the masked tokens, then mask token + pos
    _, t_ref = bb.encode(vis, bb.embed_text(inputs['input_ids'])[:, keep])
    full = torch.zeros(B, 6, 32)
    full[:, keep] = t_ref
    pos = bb.text_embeddings.position_embeddings.weight[:6]
    full[:, ~keep] = (model.text_decoder.mask_token + pos[None])[:, ~keep]
    expected = model.text_decoder(full).argmax(-1)
    for i in range(B):
        got = out[i].pred_ids
        assert torch.equal(got[~keep], expected[i, ~keep])


@pytest.mark.parametrize('kind', ['SimVTP', 'ReferenceFlowSimVTP'])
def test_vtm_batch_of_one_gives_zero_loss_attached_to_the_graph(kind):
    model = build(type=kind)
    batch = make_batch()
    batch['inputs'] = batch['inputs'][:1]
    losses = losses_of(model, batch)
    assert losses['loss_vtm'].item() == 0.0
    total(losses).backward()
    assert model.vtm_head.fc.weight.grad is not None


def test_hard_vtm_negatives_need_vtc():
    with pytest.raises(ValueError, match=r"negative='hard' needs the VTC "
                       r"similarities"):
        build(objectives=('msm', 'vtm'),
              vtm_head=dict(type='VTMHead', negative='hard'))


def test_options_of_earlier_versions_name_their_new_place():
    with pytest.raises(TypeError, match=r'model\.skip_text_padding: now '
                       r'model\.backbone\.skip_padding'):
        build(skip_text_padding=True)
    with pytest.raises(TypeError, match='ReferenceFlowSimVTP'):
        build(vtm_reuse_positives=False)


def test_geometry_mismatch_names_the_keys():
    with pytest.raises(ValueError, match=r'(?s)model\.video_decoder\.in_dims'
                       r'=64 differs.*model\.vtm_head\.embed_dims=64'):
        build(video_decoder=dict(in_dims=64), vtm_head=dict(embed_dims=64))
    with pytest.raises(ValueError, match=r'drop_masked_text=True needs '
                       r'model\.text_decoder\.mask_token=True'):
        build(drop_masked_text=True, text_decoder=dict(mask_token=False))
    with pytest.raises(ValueError, match=r'model\.backbone\.with_text=False'
                       r'.*set model\.backbone\.with_text=True'):
        build(backbone=dict(with_text=False))


def test_old_text_mask_token_key_loads_into_the_text_decoder():
    model = build(drop_masked_text=True)
    state = model.state_dict()
    state['text_mask_token'] = state.pop('text_decoder.mask_token') + 1
    model.load_state_dict(state, strict=True)
    torch.testing.assert_close(model.text_decoder.mask_token,
                               state['text_mask_token'])
