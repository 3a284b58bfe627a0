# Control for finetune_synthetic.py: the same model, data, schedule and
# selection from random weights (no pre-training), so the difference is
# what pre-training contributes.
#   python tools/train.py configs/retrieval/finetune_synthetic_scratch.py
_base_ = ['finetune_synthetic.py']

model = dict(init_cfg=None, vtm_head=None, rerank=None)
# The same optimiser too, layer decay 0.75 included (it protects
# pre-trained lower layers, which a random init lacks: if anything a
# handicap for this control). No pre-trained matching head to re-rank with.
test_evaluator = dict(type='VideoTextRetrievalMetric', _delete_=True,
                      metric_list=('R1', 'R5', 'R10', 'R50', 'MdR', 'MnR'))
