# The random-initialisation baseline of finetune_synthetic_200clips.py: the
# same 200 clips, recipe and budget, the encoder from scratch.
#   python tools/train.py \
#       configs/retrieval/finetune_synthetic_200clips_scratch.py
_base_ = ['finetune_synthetic_200clips.py']

model = dict(init_cfg=None, vtm_head=None, rerank=None)
test_evaluator = dict(type='VideoTextRetrievalMetric', _delete_=True,
                      metric_list=('R1', 'R5', 'R10', 'R50', 'MdR', 'MnR'))
