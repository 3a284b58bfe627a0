"""Attention from a caption word to the video tokens (paper Figure 5).

    python tools/visualizations/vis_attention.py CONFIG CHECKPOINT \
        --video V.mp4 --caption "a red circle moves left" --word red \
        --out DIR [--layer -1] [--alpha 0.5] [--scale 2]

One joint pass over the full (unmasked) clip and the caption; the attention
of the chosen block is recomputed from its qkv weights on its input (a
forward pre-hook), averaged over heads and over the word's token positions,
reshaped to (T', H', W'), upsampled to the frames and overlaid as a heat map.
Writes DIR/attention_<word>_layer<L>.png.
"""
import argparse
import os
import os.path as osp
import re
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--video', required=True)
    parser.add_argument('--caption', required=True)
    parser.add_argument('--word', required=True,
                        help='a word of the caption (all its WordPiece '
                        'tokens and occurrences are averaged)')
    parser.add_argument('--layer', type=int, default=-1,
                        help='block index, negative from the end')
    parser.add_argument('--out', required=True)
    parser.add_argument('--alpha', type=float, default=0.5)
    parser.add_argument('--scale', type=int, default=1)
    parser.add_argument('--device', default='cpu')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from simvtp.visualization.attention import (attention_figure,
                                                find_word_positions,
                                                word_to_video_attention)
    from simvtp.visualization.inputs import load_model, prepare_clip
    model, cfg = load_model(args.config, args.checkpoint, args.device)
    inputs, tokenizer = prepare_clip(model, cfg, args.video, args.caption)
    if tokenizer is None:
        raise SystemExit('error: no tokenizer in the config pipeline')
    positions = find_word_positions(tokenizer, inputs['input_ids'][0],
                                    args.word)
    heat, info = word_to_video_attention(
        model, inputs['video'], inputs['input_ids'],
        inputs['attention_mask'], positions, args.layer)
    pixels = model.data_preprocessor.to_unit_range(inputs['video'])[0]
    title = [f'"{args.caption}"',
             f'attention from "{args.word}" (caption tokens {positions}) to '
             f'the video tokens, block {info["layer"]} of '
             f'{len(model.backbone.blocks)}, mean over {info["num_heads"]} '
             f'heads; {info["video_share"]:.0%} of its attention goes to '
             'video']
    figure = attention_figure(pixels, heat[0], title, args.alpha, args.scale)
    os.makedirs(args.out, exist_ok=True)
    safe = re.sub(r'[^A-Za-z0-9_-]+', '_', args.word)
    path = osp.join(args.out, f'attention_{safe}_layer{info["layer"]}.png')
    figure.save(path)
    print(f'wrote {path} ({figure.width}x{figure.height})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
