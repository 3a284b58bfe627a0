# MSRVTT-MC (no training set): the zero-training protocol on a model with
# the encoder and VTM head (a retrieval-fine-tuned or pre-trained SimVTP
# checkpoint), scoring each of the 5 captions two ways, each reported under
# its own name:
#   vqa_mc/vtm_acc      softmax(VTM)[matched]                 (ClipBERT)
#   vqa_mc/vtm_sim_acc  0.7 x that + 0.3 x softmax over the options of
#                       cosine / temperature (mmaction2 VindLU, UMT)
#   python tools/test.py configs/vqa/msrvtt_mc.py CHECKPOINT
# The checkpoint's backbone., vtm_head. and vtc_head. tensors are read by
# name. train_videos lists the retrieval model's training videos: the 9k
# split shares videos with this test set (a warning counts them); Unmasked
# Teacher uses a model trained on the 7k split for this reason.
_base_ = [
    '../_base_/vqa_vitb_finetune.py',
    '../_base_/default_runtime.py',
]
data_root = 'data/msrvtt'
model = dict(
    type='MatchingSimilarityMultipleChoice',
    backbone={{_base_.vitb_backbone}},
    vtm_head=dict(type='VTMHead', embed_dims=768),
    vtc_head=dict(type='VTCHead', embed_dims=768),
    vtm_weight=0.7,
    data_preprocessor=dict(type='VideoTextDataPreprocessor'))
test_dataloader = dict(
    batch_size=8, num_workers=8, persistent_workers=True,
    collate_fn=dict(type='pseudo_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='MultipleChoiceQADataset', layout='mmaction_mc',
        ann_file=data_root + '/annotations/msrvtt_mc_test.json',
        data_prefix=dict(video=data_root + '/videos'),
        train_videos=data_root + '/annotations/train_9k.json',
        pipeline={{_base_.test_pipeline}}, test_mode=True))
test_evaluator = dict(type='MultipleChoiceScoreAccuracy',
                      score_names=('vtm', 'vtm_sim'))
