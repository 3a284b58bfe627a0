"""Masked video + caption reconstruction of one clip with a SimVTP model.

    python tools/visualizations/vis_reconstruction.py CONFIG CHECKPOINT \
        --video V.mp4 --caption "a red circle moves left" --out DIR \
        [--seed 0] [--mask-ratio 0.9] [--use-target-stats] [--scale 2]

Runs the config's test pipeline (decode, resize, tokenize) plus the tube and
text masking of its train pipeline, calls the model's predict, and writes
DIR/reconstruction.png (rows original / masked / reconstructed for every
frame, and the three captions) and DIR/reconstruction.gif (the three side by
side over time). Hidden patches are un-normalised with statistics of the
visible pixels only; --use-target-stats uses the hidden patches' ground-truth
mean/std instead (flagged in the image title; it leaks the hidden pixels).
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--video', required=True, help='a video file')
    parser.add_argument('--caption', required=True)
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--seed', type=int, default=0,
                        help='fixes the tube and text masks')
    parser.add_argument('--mask-ratio', type=float, default=None,
                        help="tube mask ratio (default: the config's)")
    parser.add_argument('--use-target-stats', action='store_true',
                        help='CHEATING: un-normalise hidden patches with '
                        'their ground-truth mean/std (labelled on the image)')
    parser.add_argument('--scale', type=int, default=1,
                        help='integer up-scaling of the frames')
    parser.add_argument('--fps', type=float, default=4.0, help='GIF speed')
    parser.add_argument('--device', default='cpu')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    import numpy as np
    import torch

    from simvtp.visualization.inputs import load_model, prepare_clip
    from simvtp.visualization.reconstruction import (
        predict_reconstruction, reconstruction_animation, render_batch,
        save_gif)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    model, cfg = load_model(args.config, args.checkpoint, args.device)
    inputs, tokenizer = prepare_clip(model, cfg, args.video, args.caption,
                                     with_masking=True,
                                     mask_ratio=args.mask_ratio,
                                     seed=args.seed)
    result = predict_reconstruction(model, inputs, args.use_target_stats)
    os.makedirs(args.out, exist_ok=True)
    hidden = int(inputs['video_mask'][0].sum())
    header = (f'{osp.basename(args.video)}: {hidden}/'
              f'{inputs["video_mask"].shape[1]} tubes and '
              f'{int((inputs["mlm_labels"][0] != -100).sum())} words hidden '
              f'(seed {args.seed})')
    grid = render_batch(result, inputs, tokenizer, args.use_target_stats,
                        args.scale, header=header)
    png = osp.join(args.out, 'reconstruction.png')
    grid.save(png)
    frames = reconstruction_animation(result['original'][0],
                                      result['masked_video'][0],
                                      result['reconstruction'][0],
                                      args.scale)
    gif = osp.join(args.out, 'reconstruction.gif')
    save_gif(frames, gif, args.fps)
    print(f'wrote {png} ({grid.width}x{grid.height}) and {gif} '
          f'({len(frames)} frames of {frames[0].width}x{frames[0].height})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
