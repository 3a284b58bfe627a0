"""The moment-prior baseline of a grounding config's test split.

    python tools/analysis_tools/grounding_baseline.py CONFIG [--split test]

Predicts, for every query of the split, the training set's most frequent
normalised segment (snapped to the config's 2D map of N clips; for R@5 the
5 most frequent after NMS) and prints R@n,IoU=m and mIoU in the model's
metric. Reads the annotations only (no features, no model).
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--split', default='test', choices=['val', 'test'])
    parser.add_argument('--cfg-options', nargs='+', default=None)
    return parser.parse_args(argv)


def _queries(cfg, loader: str):
    import numpy as np
    from mmengine.registry import init_default_scope

    from simvtp.registry import DATASETS
    init_default_scope(cfg.get('default_scope', 'simvtp'))
    dataset_cfg = dict(cfg[loader].dataset, feature_file=None, pipeline=[])
    dataset = DATASETS.build(dataset_cfg)
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    segments = np.array([info['gt_times'] for info in infos], float)
    durations = np.array([info['duration'] for info in infos], float)
    return segments, durations


def main(argv=None) -> int:
    args = parse_args(argv)
    import simvtp  # noqa: F401
    from mmengine.config import Config, DictAction

    from simvtp.evaluation.grounding_prior import prior_baseline
    from simvtp.models.grounding import sparse_proposal_mask

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        parser = argparse.ArgumentParser()
        parser.add_argument('--o', nargs='+', action=DictAction)
        cfg.merge_from_dict(parser.parse_args(['--o'] + args.cfg_options).o)
    model = cfg.model
    sampled = cfg[f'{args.split}_dataloader'].dataset.get(
        'num_sample_clips', 256)
    pool = model.frame_pool
    num_clips = (sampled - pool.kernel_size) // pool.stride + 1
    mask = sparse_proposal_mask(num_clips,
                                model.proposal.get('num_scale_layers', [16]))
    evaluator = cfg.get(f'{args.split}_evaluator') or {}
    train = _queries(cfg, 'train_dataloader')
    test = _queries(cfg, f'{args.split}_dataloader')
    metrics = prior_baseline(
        *train, *test, num_clips=num_clips, mask=mask,
        recalls=evaluator.get('recalls', (1, 5)),
        iou_thresholds=evaluator.get('iou_thresholds', (0.5, 0.7)),
        nms_thresh=model.get('nms_thresh', 0.5))
    metrics['num_queries'] = int(len(test[0]))
    metrics['num_clips'] = int(num_clips)
    print(json.dumps(metrics, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
