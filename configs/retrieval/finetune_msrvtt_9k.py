# SimVTP ViT-B/16 fine-tuned for text-video retrieval on MSR-VTT 9k, tested
# on 1k-A: the authors' recipe (two towers, InfoNCE at temperature 0.05,
# batch 64, 100 epochs, their augmentations, 15 x 3 test views) with the
# checkpoint selected on 500 held-out training videos, not on the test set.
# Annotations: the authors' {video_path: caption} split files.
#   SIMVTP_PRETRAINED=work_dirs/pretrain_vitb/epoch_200.pth \
#       tools/dist_train.sh configs/retrieval/finetune_msrvtt_9k.py 8
#   tools/dist_test.sh configs/retrieval/finetune_msrvtt_9k.py best 8
# Paper Table 1 (Kinetics init): R@1 53.6, R@5 81.9, R@10 90.7, MdR 1.
_base_ = [
    '../_base_/models/retriever_vitb.py',
    '../_base_/datasets/msrvtt_retrieval.py',
    '../_base_/schedules/retrieval_adamw_100e.py',
    '../_base_/default_runtime.py',
]

default_hooks = dict(
    logger=dict(interval=50),
    # keep the checkpoint that is best on the validation split
    checkpoint=dict(interval=1, max_keep_ckpts=1, save_best='retrieval/R1',
                    rule='greater'))
custom_hooks = [dict(type='MetricModelHook')]
# after training: the checkpoint selected on validation, then the last one
test_after_train = ['best', 'last']
