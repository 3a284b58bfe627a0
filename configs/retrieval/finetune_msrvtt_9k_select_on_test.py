# The authors' selection protocol, named as such: validate on the 1k-A TEST
# split and keep its best checkpoint (their test_1k_miech.json serves as val
# and test). Every run logs that selection uses the test split; the figures
# of the selected checkpoint are optimistic. Prefer finetune_msrvtt_9k.py.
_base_ = ['finetune_msrvtt_9k.py']

select_on_test = True
val_dataloader = dict(dataset=dict(dataset=dict(
    ann_file='data/msrvtt/annotations/test_1k_miech.json', holdout=None)))
