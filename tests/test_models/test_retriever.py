"""VideoTextRetriever: loss, towers, layer decay, views, re-ranking, loading."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

import simvtp  # noqa: F401
from simvtp.checkpoint import msrvtt_finetuned_to_simvtp
from simvtp.evaluation import VTMRerankRetrievalMetric
from simvtp.evaluation.metrics import rerank_topk
from simvtp.registry import MODELS
from tests.test_converters.test_converters import (D, MAXLEN, P, T, V,
                                                   finetuned_state)
from tests.tiny_model import build_tiny, tiny_geometry

SIZE = 32


def backbone_cfg(**kwargs):
    cfg = dict(type='UnifiedViT', **tiny_geometry(
        dims=D, mlp_ratio=4, frames=T, size=SIZE, patch=P, vocab=V,
        max_text_len=MAXLEN)['backbone'])
    cfg.update(kwargs)
    return cfg


def build(seed=0, **kwargs):
    init_default_scope('simvtp')
    torch.manual_seed(seed)
    kwargs.setdefault('backbone', backbone_cfg())
    model = MODELS.build(dict(type='VideoTextRetriever', **kwargs))
    model.init_weights()
    return model.eval()


def batch(b=4, length=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    video = torch.randn(b, 3, T, SIZE, SIZE, generator=g)
    ids = torch.randint(1, V, (b, length), generator=g)
    mask = torch.ones(b, length, dtype=torch.long)
    mask[0, 4:] = 0
    mask[1, 5:] = 0
    ids[mask == 0] = 0
    return dict(video=video, input_ids=ids, attention_mask=mask)


def test_loss_matches_an_independent_formula():
    model = build(vtc_head=dict(type='VTCHead', learnable_temperature=False,
                                temperature=0.05, symmetric_sum=True))
    inputs = batch()
    loss = model.loss(inputs)['loss_vtc']
    enc = model.backbone
    with torch.no_grad():
        v = enc.encode(enc.embed_video(inputs['video']))[0].mean(1)
        _, t_tok = enc.encode(None, enc.embed_text(inputs['input_ids']),
                              inputs['attention_mask'], skip_padding=False)
        m = inputs['attention_mask'].float()[..., None]
        t = (t_tok * m).sum(1) / m.sum(1)
        sim = F.normalize(t, dim=-1) @ F.normalize(v, dim=-1).T / 0.05
        labels = torch.arange(len(sim))
        expected = F.cross_entropy(sim, labels) + \
            F.cross_entropy(sim.T, labels)
    torch.testing.assert_close(loss.detach(), expected, rtol=1e-5,
                               atol=1e-5)


def test_tied_shares_one_encoder_untied_has_two_towers():
    tied = build()
    assert tied.video_tower is tied.text_tower
    names = {n for n, _ in tied.named_parameters()}
    assert not any(n.startswith(('video_encoder', 'text_encoder'))
                   for n in names)
    tied.train().loss(batch())['loss_vtc'].backward()
    assert tied.backbone.patch_embed.proj.weight.grad.abs().sum() > 0
    assert tied.backbone.text_embeddings.word_embeddings.weight.grad \
        .abs().sum() > 0

    two = build(tied=False).train()
    assert two.video_encoder is not two.text_encoder
    ptrs = {p.data_ptr() for p in two.video_encoder.parameters()}
    assert not ptrs & {p.data_ptr() for p in two.text_encoder.parameters()}
    two.loss(batch())['loss_vtc'].backward()
    for tower in (two.video_encoder, two.text_encoder):
        assert tower.blocks[0].attn.qkv.weight.grad.abs().sum() > 0
    # the parts a tower never uses are frozen
    assert not any(p.requires_grad for p in
                   two.video_encoder.text_embeddings.parameters())
    assert not any(p.requires_grad for p in
                   two.text_encoder.patch_embed.parameters())
    # the text tower does not change video features
    two.eval()
    before = two.extract_features(batch())['video_feature']
    with torch.no_grad():
        for p in two.text_encoder.blocks.parameters():
            p.add_(1.0)
    torch.testing.assert_close(
        two.extract_features(batch())['video_feature'], before)


def test_pretrained_init_fills_both_towers_and_the_vtm_head(tmp_path):
    simvtp_model = build_tiny(dims=D, mlp_ratio=4, frames=T, size=SIZE,
                              patch=P, vocab=V, max_text_len=MAXLEN, seed=3)
    path = tmp_path / 'epoch_1.pth'
    torch.save(dict(state_dict=simvtp_model.state_dict()), path)
    model = build(tied=False, vtm_head=dict(type='VTMHead', embed_dims=D),
                  init_cfg=dict(type='SimVTPPretrained', checkpoint=str(path),
                                prefix_map={'backbone.': ['video_encoder.',
                                                          'text_encoder.'],
                                            'vtm_head.': 'vtm_head.'}))
    src = simvtp_model.state_dict()
    for tower in ('video_encoder', 'text_encoder'):
        for key in ('blocks.1.mlp.fc1.weight', 'patch_embed.proj.weight',
                    'text_embeddings.word_embeddings.weight', 'norm.bias'):
            assert torch.equal(model.state_dict()[f'{tower}.{key}'],
                               src[f'backbone.{key}']), (tower, key)
    assert torch.equal(model.vtm_head.fc.weight, src['vtm_head.fc.weight'])
    with pytest.raises(FileNotFoundError, match='pretrain_synthetic.py'):
        build(init_cfg=dict(type='SimVTPPretrained',
                            checkpoint=str(tmp_path / 'absent.pth'),
                            prefix_map={'backbone.': 'backbone.'}))


def test_layer_decay_groups_of_the_two_towers():
    model = build(tied=False, post_norm=True)
    wrapper = build_optim_wrapper(model, dict(
        type='OptimWrapper',
        constructor='LayerDecayOptimWrapperConstructor',
        optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
        paramwise_cfg=dict(layer_decay_rate=0.5,
                           encoders=['video_encoder', 'text_encoder'])))
    groups = {}
    for group in wrapper.optimizer.param_groups:
        for name in group['param_names']:
            groups[name] = group
    # 2 blocks: max_layer_id 4, scale 0.5 ** (3 - layer_id)
    expected = {
        'video_encoder.patch_embed.proj.weight': (0.125, 0.05),
        'text_encoder.text_embeddings.word_embeddings.weight': (0.125, 0.05),
        'video_encoder.blocks.0.attn.qkv.weight': (0.25, 0.05),
        'text_encoder.blocks.1.mlp.fc1.weight': (0.5, 0.05),
        'text_encoder.blocks.1.mlp.fc1.bias': (0.5, 0.0),
        'video_encoder.norm.weight': (1.0, 0.0),
        'video_post_norm.weight': (1.0, 0.0),
    }
    for name, (scale, decay) in expected.items():
        assert groups[name]['lr'] == pytest.approx(1e-3 * scale), name
        assert groups[name]['weight_decay'] == decay, name
    # frozen parts (never used by their tower) are not optimised
    assert 'video_encoder.text_embeddings.word_embeddings.weight' not in \
        groups
    assert 'text_encoder.patch_embed.proj.weight' not in groups


@pytest.mark.parametrize('reduce', ['mean', 'unit_mean'])
def test_multi_view_is_the_mean_of_single_views(reduce):
    model = build(view_reduce=reduce, post_norm=True)
    g = torch.Generator().manual_seed(1)
    raw = torch.randint(0, 256, (2, 3, 3, T, SIZE, SIZE), generator=g,
                        dtype=torch.uint8)  # 2 videos x 3 views
    pre = model.data_preprocessor
    data = pre(dict(inputs=[dict(video=v) for v in raw]))
    samples = model.predict(data['inputs'])
    got = torch.stack([s.features.video_feature for s in samples])
    singles = []
    for view in range(3):  # each view on its own, as a one-view test
        one = pre(dict(inputs=[dict(video=v[view]) for v in raw]))
        feat = model.extract_features(one['inputs'])['video_feature']
        singles.append(F.normalize(feat, dim=-1) if reduce == 'unit_mean'
                       else feat)
    torch.testing.assert_close(got, torch.stack(singles).mean(0),
                               rtol=1e-5, atol=1e-6)


def test_rerank_changes_only_the_top_k():
    rng = np.random.default_rng(0)
    sim = rng.uniform(-1, 1, (6, 20))
    match = rng.normal(size=(6, 20))
    out = rerank_topk(sim, 5, lambda r, c: match[r, c])
    for row in range(6):
        top = set(np.argsort(-sim[row])[:5])
        order = np.argsort(-out[row])
        assert set(order[:5]) == top  # the same candidates stay on top
        # re-ordered by the matching score ...
        assert list(order[:5]) == sorted(top, key=lambda c: -match[row, c])
        # ... and everything below keeps the embedding order and scores
        rest = order[5:]
        assert list(rest) == list(np.argsort(-sim[row])[5:])
        np.testing.assert_array_equal(out[row, rest], sim[row, rest])


@pytest.mark.parametrize('vtm_pooling', [None, 'text'])
def test_vtm_scores_pool_as_the_pretraining(vtm_pooling):
    """Re-ranking pools the joint pass as pre-training's VTM did: all real
    tokens (default) or the caption tokens only (vtm_pooling='text')."""
    model = build(vtm_head=dict(type='VTMHead', embed_dims=D),
                  vtm_pooling=vtm_pooling)
    data = batch()
    enc = model.backbone
    tokens = enc.embed_video(data['video'])
    got = model.vtm_scores(tokens, data['input_ids'], data['attention_mask'])
    for i in range(2):
        keep = int(data['attention_mask'][i].sum())
        v, t = enc.encode(tokens[i:i + 1],
                          enc.embed_text(data['input_ids'][i:i + 1, :keep]))
        pooled = t.mean(1) if vtm_pooling else torch.cat([v, t], 1).mean(1)
        expected = F.log_softmax(model.vtm_head(pooled), -1)[0, 1]
        torch.testing.assert_close(got[i], expected, atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match='vtm_pooling must be'):
        build(vtm_pooling='cls')


class OracleScorer(torch.nn.Module):
    """vtm_scores = 0 for the true pair, -1 otherwise (a perfect head)."""
    rerank = dict(k=3, batch_size=5)

    def __init__(self):
        super().__init__()
        self.data_preprocessor = type('P', (), {'pad_token_id': 0})()

    def vtm_scores(self, video, ids, mask):
        # the video tokens carry their index, the caption its video's
        return (video[:, 0, 0] == ids[:, 1].float()).float() - 1


def test_rerank_metric_reports_its_own_names():
    rng = np.random.default_rng(1)
    n = 12
    video = rng.normal(size=(n, 8)).astype(np.float32)
    text = video + rng.normal(scale=1.5, size=(n, 8)).astype(np.float32)
    metric = VTMRerankRetrievalMetric(metric_list=('R1', 'R3'))
    metric.bind_model(OracleScorer())
    samples = [dict(features=dict(video_feature=torch.tensor(video[i]),
                                  text_feature=torch.tensor(text[i])),
                    video_id=i,
                    rerank_video=torch.full((2, 4), float(i)),
                    rerank_ids=torch.tensor([[1, i, 2, 0]]),
                    rerank_mask=torch.tensor([[1, 1, 1, 0]]))
               for i in range(n)]
    metric.process(None, samples)
    result = metric.compute_metrics(metric.results)
    # a perfect matching head puts the true video first whenever the
    # embeddings had it in their top 3: vtm_R1 == embedding R3
    assert result['vtm_R1'] == pytest.approx(result['R3'])
    assert result['vtm_R1'] > result['R1']
    assert result['vtm_k'] == 3


def test_converted_two_tower_checkpoint_loads_strictly():
    sd = finetuned_state(torch.Generator().manual_seed(5))
    state, report = msrvtt_finetuned_to_simvtp({'module': sd}, tower='both')
    assert not report.lossy and not report.missing
    model = build(tied=False, post_norm=True, pooling='mean_with_padding',
                  backbone=backbone_cfg(final_norm=False, img_size=32))
    model.load_state_dict(state, strict=True)
    assert torch.equal(model.text_post_norm.weight,
                       sd['text_encoder.fc_norm.weight'])
    assert torch.equal(model.video_encoder.blocks[1].attn.v_bias,
                       sd['video_encoder.blocks.1.attn.v_bias'])
    # the authors' text feature: mean over all tokens (padding too) of the
    # text tower's blocks, then fc_norm
    inputs = batch()
    enc = model.text_encoder
    with torch.no_grad():
        _, tok = enc.encode(None, enc.embed_text(inputs['input_ids']),
                            inputs['attention_mask'], skip_padding=False)
        expected = F.layer_norm(tok.mean(1), (D, ),
                                sd['text_encoder.fc_norm.weight'],
                                sd['text_encoder.fc_norm.bias'], 1e-6)
    torch.testing.assert_close(
        model.extract_features(inputs)['text_feature'], expected)
