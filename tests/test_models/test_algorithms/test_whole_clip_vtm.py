"""VTM over whole clips and captions (``vtm_input='unmasked'``) and the VTM
pooling option, against an independent computation."""
import pytest
import torch
import torch.nn.functional as F

from simvtp.models.utils.pooling import pool_joint
from tests.test_models.test_algorithms.test_simvtp import (build, losses_of,
                                                           make_batch, total)

NEGATIVES = torch.tensor([2, 0, 3, 1])


def test_pool_joint_against_hand_means():
    torch.manual_seed(0)
    video, text = torch.randn(2, 3, 4), torch.randn(2, 5, 4)
    valid = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    mean0 = torch.cat([video[0], text[0, :3]]).mean(0)
    torch.testing.assert_close(pool_joint(video, text, valid, 'mean')[0],
                               mean0)
    torch.testing.assert_close(
        pool_joint(video, text, valid, 'mean_with_padding')[0],
        torch.cat([video[0], text[0]]).mean(0))
    torch.testing.assert_close(pool_joint(video, text, valid, 'text')[0],
                               text[0, :3].mean(0))
    both = pool_joint(video, text, valid, 'video_text')
    torch.testing.assert_close(both[1], torch.cat([video[1].mean(0),
                                                   text[1].mean(0)]))
    with pytest.raises(ValueError, match="pooling must be one of"):
        pool_joint(video, text, valid, 'cls')


def expected_whole_clip_vtm(model, inputs, pairs=4):
    """Positives and negatives of whole clips and unmasked captions, pooled
    over the caption tokens, computed pass by pass (the first ``pairs``)."""
    bb = model.backbone
    video = bb.embed_video(inputs['video'])
    text = bb.embed_text(inputs['input_ids_unmasked'])[:pairs]
    valid = inputs['attention_mask'][:pairs]

    def pooled(clips):
        _, text_out = bb.encode(clips, text, valid)
        w = valid.unsqueeze(-1).float()
        return (text_out * w).sum(1) / w.sum(1)

    logits = model.vtm_head(torch.cat([pooled(video[:pairs]),
                                       pooled(video[NEGATIVES[:pairs]])]))
    labels = torch.tensor([1] * pairs + [0] * pairs)
    return F.cross_entropy(logits, labels)


def test_whole_clip_vtm_equals_independent_computation():
    torch.manual_seed(0)
    model = build(vtm_input='unmasked', vtm_pooling='text').eval()
    model.vtm_head.sample_negatives = lambda *a, **k: NEGATIVES
    data = model.data_preprocessor(make_batch(lengths=(6, 3, 4, 5)), True)
    got = model(**data, mode='loss')['loss_vtm']
    torch.testing.assert_close(got, expected_whole_clip_vtm(
        model, data['inputs']))
    # the masked (paper) VTM reads other inputs: a different loss
    masked = build(vtm_pooling='text').eval()
    masked.load_state_dict(model.state_dict())
    masked.vtm_head.sample_negatives = lambda *a, **k: NEGATIVES
    assert not torch.allclose(masked(**data, mode='loss')['loss_vtm'], got)


def test_vtm_pairs_matches_the_first_pairs_only():
    torch.manual_seed(0)
    model = build(vtm_input='unmasked', vtm_pooling='text',
                  vtm_pairs=2).eval()
    model.vtm_head.sample_negatives = lambda *a, **k: NEGATIVES
    data = model.data_preprocessor(make_batch(lengths=(6, 3, 4, 5)), True)
    got = model(**data, mode='loss')['loss_vtm']
    torch.testing.assert_close(got, expected_whole_clip_vtm(
        model, data['inputs'], pairs=2))


@pytest.mark.parametrize('pairs', [None, 3])
def test_whole_clip_vtm_equals_the_reference_flow_and_trains(pairs):
    torch.manual_seed(0)
    ours = build(vtm_input='unmasked', vtm_pooling='text', vtm_pairs=pairs,
                 vtc_video='unmasked', vtc_text='unmasked').eval()
    ref = build(type='ReferenceFlowSimVTP', vtm_input='unmasked',
                vtm_pooling='text', vtm_pairs=pairs, vtc_video='unmasked',
                vtc_text='unmasked').eval()
    ref.load_state_dict(ours.state_dict())
    ours.vtm_head.sample_negatives = lambda *a, **k: NEGATIVES
    ref.sample_negatives_loop = lambda *a, **k: NEGATIVES
    batch = make_batch()
    a, b = losses_of(ours, batch), losses_of(ref, batch)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)
    ours.train()
    total(losses_of(ours, batch)).backward()
    assert ours.vtm_head.fc.weight.grad.abs().sum() > 0
    missing = [n for n, p in ours.named_parameters() if p.grad is None]
    assert missing == []


def test_vtm_options_are_checked_by_name():
    with pytest.raises(ValueError, match='model.vtm_input must be one of'):
        build(vtm_input='whole')
    with pytest.raises(ValueError, match='model.vtm_pooling must be one of'):
        build(vtm_pooling='video_text')
    with pytest.raises(ValueError, match="needs model.vtm_input='unmasked'"):
        build(vtm_pairs=8)
    with pytest.raises(ValueError, match='model.vtm_pairs must be an int'):
        build(vtm_input='unmasked', vtm_pairs=1)
