"""Video-QA models: option scoring, CE over options, answer classifier."""
import json

import pytest
import torch
import torch.nn.functional as F
from mmaction.structures import ActionDataSample
from mmengine.registry import init_default_scope

from simvtp.models.utils.pooling import masked_mean
from simvtp.registry import MODELS
from tests.tiny_model import tiny_geometry

K = 3


def _backbone():
    geo = tiny_geometry()['backbone']
    return dict(type='UnifiedViT', **geo)


def _mc_model(cls='VideoQAMultipleChoice', **kwargs):
    init_default_scope('simvtp')
    torch.manual_seed(0)
    model = MODELS.build(dict(type=cls, backbone=_backbone(),
                              vtm_head=dict(type='VTMHead', embed_dims=32),
                              **kwargs))
    return model.eval()


def _mc_inputs(batch=2, k=K, length=6):
    torch.manual_seed(1)
    ids = torch.randint(5, 40, (batch * k, length))
    mask = torch.ones_like(ids)
    mask[1, 4:] = 0  # one option shorter than the others
    ids[1, 4:] = 0
    return dict(video=torch.randn(batch, 3, 4, 32, 32), input_ids=ids,
                attention_mask=mask, text_counts=[k] * batch)


def _samples(labels):
    out = []
    for label in labels:
        s = ActionDataSample()
        s.set_gt_label(label)
        out.append(s)
    return out


def test_option_scores_equal_scoring_each_option_alone():
    model = _mc_model()
    inputs = _mc_inputs()
    scores = model(inputs, mode='tensor')
    assert scores.shape == (2, K)
    bb = model.backbone
    for b in range(2):
        for k in range(K):
            row = b * K + k
            keep = int(inputs['attention_mask'][row].sum())
            ids = inputs['input_ids'][row:row + 1, :keep]
            v, t = bb.encode(bb.embed_video(inputs['video'][b:b + 1]),
                             bb.embed_text(ids))
            pooled = masked_mean(torch.cat([v, t], 1))
            alone = model.vtm_head(pooled)[0, 1]
            torch.testing.assert_close(scores[b, k], alone, atol=1e-4,
                                       rtol=1e-4)
    samples = model(inputs, _samples([0, 1]), mode='predict')
    assert [s.pred_label for s in samples] == scores.argmax(1).tolist()
    assert all(isinstance(s.pred_label, int) for s in samples)


def test_loss_is_cross_entropy_over_options():
    model = _mc_model()
    inputs = _mc_inputs()
    labels = [2, 0]
    losses = model(inputs, _samples(labels), mode='loss')
    scores = model(inputs, mode='tensor')
    # independent: log-softmax by hand
    manual = -torch.stack([scores[b, y] - torch.logsumexp(scores[b], 0)
                           for b, y in enumerate(labels)]).mean()
    torch.testing.assert_close(losses['loss'], manual)
    # uneven option counts: the missing option never wins nor costs
    short = _mc_inputs(batch=2, k=K)
    short['input_ids'] = short['input_ids'][:-1]
    short['attention_mask'] = short['attention_mask'][:-1]
    short['text_counts'] = [K, K - 1]
    s = model(short, mode='tensor')
    assert s.shape == (2, K) and torch.isinf(s[1, -1])


def test_zero_training_scores():
    model = _mc_model('MatchingSimilarityMultipleChoice',
                      vtc_head=dict(type='VTCHead', embed_dims=32,
                                    temperature=0.05))
    inputs = _mc_inputs()
    scores = model.named_scores(inputs)
    vtm = model.pair_logits(inputs).softmax(-1)[:, 1].view(2, K)
    torch.testing.assert_close(scores['vtm'], vtm)
    bb = model.backbone
    video = F.normalize(masked_mean(bb.encode(bb.embed_video(
        inputs['video']))[0]), dim=-1)
    mask = inputs['attention_mask']
    text = F.normalize(masked_mean(bb.encode(None, bb.embed_text(
        inputs['input_ids']), mask)[1], mask), dim=-1).view(2, K, -1)
    sim = torch.einsum('bd,bkd->bk', video, text) / 0.05
    torch.testing.assert_close(scores['sim'], sim.softmax(-1))
    torch.testing.assert_close(scores['vtm_sim'],
                               0.7 * vtm + 0.3 * sim.softmax(-1))
    samples = model.predict(inputs, _samples([0, 1]))
    assert samples[0].pred_label == int(scores['vtm_sim'][0].argmax())
    assert set(samples[0].option_scores) == {'sim', 'vtm', 'vtm_sim'}


def test_similarity_only_mc_never_runs_the_vtm_head(monkeypatch):
    """vtm_weight=0: the prediction is the argmax of the similarity score
    and no joint [video ; option] pass is made."""
    model = _mc_model('MatchingSimilarityMultipleChoice',
                      vtc_head=dict(type='VTCHead', embed_dims=32,
                                    temperature=0.05), vtm_weight=0.0)
    monkeypatch.setattr(model, 'pair_logits', lambda *a: 1 / 0)
    inputs = _mc_inputs()
    scores = model.named_scores(inputs)
    assert set(scores) == {'sim'}
    samples = model.predict(inputs, _samples([0, 1]))
    assert [s.pred_label for s in samples] == \
        scores['sim'].argmax(1).tolist()


def test_open_ended_classifier(tmp_path):
    ann = tmp_path / 'train.json'
    ann.write_text(json.dumps([
        dict(video='a.mp4', question='q', answer=a, question_id=i)
        for i, a in enumerate(['red', 'red', 'blue', 'two'])]))
    init_default_scope('simvtp')
    model = MODELS.build(dict(
        type='VideoQAClassifier', backbone=_backbone(),
        answer_vocab=dict(ann_file=str(ann), top_k=2))).eval()
    assert model.head.num_classes == 2 and model.head.fc1.out_features == 64
    inputs = dict(video=torch.randn(3, 3, 4, 32, 32),
                  input_ids=torch.randint(5, 40, (3, 5)),
                  attention_mask=torch.ones(3, 5, dtype=torch.long))
    logits = model(inputs, mode='tensor')
    assert logits.shape == (3, 2)
    losses = model(inputs, _samples([0, -1, 1]), mode='loss')
    manual = F.cross_entropy(logits[[0, 2]], torch.tensor([0, 1]))
    torch.testing.assert_close(losses['loss'], manual)
    samples = model(inputs, _samples([0, -1, 1]), mode='predict')
    assert [s.pred_answer for s in samples] == [
        ['red', 'blue'][i] for i in logits.argmax(1).tolist()]
    with pytest.raises(ValueError, match='vocabulary has 2'):
        MODELS.build(dict(type='VideoQAClassifier', backbone=_backbone(),
                          answer_vocab=dict(ann_file=str(ann), top_k=2),
                          head=dict(type='QAClassifierHead', num_classes=5)))


@pytest.mark.parametrize('skip_padding', [False, True])
def test_text_and_video_text_pooling(skip_padding, tmp_path):
    """'text' = mean of the real text outputs of the joint pass,
    'video_text' = [video mean ; text mean]; computed here from the encoder
    outputs directly. The classifier takes the pooled width."""
    from simvtp.models.vqa import joint_features
    init_default_scope('simvtp')
    torch.manual_seed(0)
    backbone = MODELS.build(dict(_backbone(), skip_padding=skip_padding))
    backbone.eval()
    video = backbone.embed_video(torch.randn(2, 3, 4, 32, 32))
    ids = torch.randint(5, 40, (2, 6))
    mask = torch.ones_like(ids)
    mask[1, 3:] = 0
    ids[1, 3:] = 0
    with torch.no_grad():
        v_out, t_out = backbone.encode(video, backbone.embed_text(ids), mask)
        text_ref = torch.stack([t_out[0].mean(0), t_out[1, :3].mean(0)])
        text = joint_features(backbone, video, ids, mask, pooling='text')
        both = joint_features(backbone, video, ids, mask,
                              pooling='video_text')
    torch.testing.assert_close(text, text_ref)
    torch.testing.assert_close(both, torch.cat([v_out.mean(1), text_ref], 1))
    ann = tmp_path / 'train.json'
    ann.write_text(json.dumps([dict(video='a.mp4', question='q', answer='red',
                                    question_id=0)]))
    classifier = MODELS.build(dict(
        type='VideoQAClassifier', backbone=_backbone(), pooling='video_text',
        answer_vocab=dict(ann_file=str(ann))))
    assert classifier.head.in_channels == 2 * 32
    with pytest.raises(ValueError, match=r"width of pooling='video_text'"):
        _mc_model(pooling='video_text')


def test_zero_training_similarity_uses_the_pretrained_video_pool():
    """With the pre-training's grid pooling the similarity uses its video
    feature (cell means projected), not the token mean; the VTM score pools
    the caption tokens when pooling='text'."""
    model = _mc_model('MatchingSimilarityMultipleChoice', pooling='text',
                      vtc_head=dict(type='VTCHead', embed_dims=32,
                                    temperature=0.05),
                      video_pool=dict(type='GridPoolProjection',
                                      grid=(2, 2, 2)))
    inputs = _mc_inputs()
    bb = model.backbone
    # a (2, 2, 2) token grid: each cell is one token, in (t, h, w) order
    tokens = bb.encode(bb.embed_video(inputs['video']))[0]
    video = F.normalize(model.video_pool.proj(tokens.flatten(1)), dim=-1)
    mask = inputs['attention_mask']
    text = F.normalize(masked_mean(bb.encode(None, bb.embed_text(
        inputs['input_ids']), mask)[1], mask), dim=-1).view(2, K, -1)
    sim = torch.einsum('bd,bkd->bk', video, text) / 0.05
    scores = model.named_scores(inputs)
    vtm = scores['vtm']
    torch.testing.assert_close(scores['vtm_sim'],
                               0.7 * vtm + 0.3 * sim.softmax(-1))
    # VTM on the caption tokens of the joint pass, option by option
    v, t = bb.encode(bb.embed_video(inputs['video'][:1]),
                     bb.embed_text(inputs['input_ids'][1:2, :4]))
    alone = model.vtm_head(t.mean(1)).softmax(-1)[0, 1]
    torch.testing.assert_close(vtm[0, 1], alone, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize('vtm_weight', [0.0, 0.7])
def test_ensemble_mc_trains_on_its_normalised_score(vtm_weight):
    """loss = -log(vtm_sim_y / sum_k vtm_sim_k); with vtm_weight=0 that is
    the cross-entropy of the similarities (no joint pass needed)."""
    model = _mc_model('MatchingSimilarityMultipleChoice',
                      vtc_head=dict(type='VTCHead', embed_dims=32,
                                    temperature=0.05),
                      vtm_weight=vtm_weight)  # eval: no dropout draws
    inputs, labels = _mc_inputs(), [2, 0]
    losses = model(inputs, _samples(labels), mode='loss')
    with torch.no_grad():
        mixed = model.named_scores(inputs)[
            'vtm_sim' if vtm_weight else 'sim']
    manual = -torch.stack([torch.log(mixed[b, y] / mixed[b].sum())
                           for b, y in enumerate(labels)]).mean()
    torch.testing.assert_close(losses['loss'], manual, rtol=1e-4, atol=1e-5)
    losses['loss'].backward()
    grad = model.vtm_head.fc.weight.grad
    assert (grad is None) == (vtm_weight == 0.0)
    assert model.backbone.patch_embed.proj.weight.grad.abs().sum() > 0


@pytest.mark.parametrize('vtm_weight', [0.0, 0.7])
def test_in_batch_negatives_loss(vtm_weight):
    """loss_sim: clip-to-text over every option of the batch (its own
    distractors and the other clips' options) and true-caption-to-clip over
    the clips, averaged; an option whose text equals a clip's true caption
    is no negative of that clip. loss_vtm: CE of the VTM logits over the
    clip's own options."""
    model = _mc_model('MatchingSimilarityMultipleChoice',
                      vtc_head=dict(type='VTCHead', embed_dims=32,
                                    temperature=0.05),
                      vtm_weight=vtm_weight, in_batch_negatives=True)
    inputs, labels = _mc_inputs(batch=3), [2, 0, 1]
    ids, mask = inputs['input_ids'], inputs['attention_mask']
    ids[4] = ids[2]  # clip 1's second option repeats clip 0's truth
    mask[4] = mask[2]
    losses = model(inputs, _samples(labels), mode='loss')
    bb = model.backbone
    with torch.no_grad():
        video = F.normalize(bb.encode(bb.embed_video(
            inputs['video']))[0].mean(1), dim=-1)
        text = F.normalize(masked_mean(bb.encode(None, bb.embed_text(ids),
                                                 mask)[1], mask), dim=-1)
    truth = [0 * K + 2, 1 * K + 0, 2 * K + 1]
    v2t = video @ text.t() / 0.05
    v2t[0, 4] = float('-inf')
    t2v = text[truth] @ video.t() / 0.05
    manual = 0.5 * (F.cross_entropy(v2t, torch.tensor(truth)) +
                    F.cross_entropy(t2v, torch.arange(3)))
    torch.testing.assert_close(losses['loss_sim'], manual, rtol=1e-4,
                               atol=1e-5)
    assert ('loss_vtm' in losses) == (vtm_weight > 0)
    if vtm_weight > 0:
        with torch.no_grad():
            vtm = model.option_scores(inputs)
        torch.testing.assert_close(
            losses['loss_vtm'], F.cross_entropy(vtm, torch.tensor(labels)),
            rtol=1e-4, atol=1e-5)


def test_open_ended_classifier_with_a_video_feature(tmp_path):
    """video_pool: the head reads [question-token mean ; grid-pooled joint
    video outputs]; masked clips are refused."""
    ann = tmp_path / 'train.json'
    ann.write_text(json.dumps([
        dict(video='a.mp4', question='q', answer=a, question_id=i)
        for i, a in enumerate(['red', 'blue', 'two'])]))
    init_default_scope('simvtp')
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='VideoQAClassifier', backbone=_backbone(), pooling='text',
        video_pool=dict(type='GridPoolProjection', grid=(2, 2, 2),
                        out_dims=16),
        answer_vocab=dict(ann_file=str(ann), top_k=3))).eval()
    assert model.head.fc1.in_features == 32 + 16
    inputs = _mc_inputs(batch=2, k=1)
    bb = model.backbone
    with torch.no_grad():
        v_out, t_out = bb.encode(bb.embed_video(inputs['video']),
                                 bb.embed_text(inputs['input_ids']),
                                 inputs['attention_mask'])
        feat = torch.cat([masked_mean(t_out, inputs['attention_mask']),
                          model.video_pool.proj(v_out.flatten(1))], dim=1)
        torch.testing.assert_close(model(inputs, mode='tensor'),
                                   model.head(feat))
    inputs['video_mask'] = torch.zeros(2, 8, dtype=torch.bool)
    with pytest.raises(ValueError, match='whole clips'):
        model(inputs, mode='tensor')
