# The synthetic multiple-choice test scored without any training, by the
# pre-trained synthetic SimVTP (MSRVTT-MC's protocol, configs/vqa/
# msrvtt_mc.py), each score under its own name:
#   vqa_mc/sim_acc      softmax over the options of the VTC similarity (the
#                       grid-pooled video feature)
#   vqa_mc/vtm_acc      softmax(VTM)[matched] on [video ; option]
#   vqa_mc/vtm_sim_acc  0.7 x vtm + 0.3 x sim
#   python tools/train.py configs/simvtp/pretrain_synthetic.py   # first
#   python tools/test.py configs/vqa/mc_synthetic_zero_shot.py \
#       work_dirs/pretrain_synthetic/epoch_4.pth
# The checkpoint argument is read by name (backbone., vtm_head., vtc_head.,
# video_pool.): the pre-training's own keys.
_base_ = ['./mc_synthetic_vtm.py']

model = dict(
    type='MatchingSimilarityMultipleChoice',
    vtc_head=dict(type='VTCHead', embed_dims=128,
                  learnable_temperature=False, temperature=0.05),
    video_pool=dict(type='GridPoolProjection', grid=(4, 2, 2)),
    vtm_weight=0.7,
    init_cfg=None)
train_dataloader = None
train_cfg = None
optim_wrapper = None
param_scheduler = None
test_evaluator = dict(_delete_=True, type='MultipleChoiceScoreAccuracy',
                      score_names=('sim', 'vtm', 'vtm_sim'))
