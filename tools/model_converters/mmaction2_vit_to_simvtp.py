"""An mmaction2 VideoMAE ViT (vit_mae VisionTransformer) checkpoint -> simvtp.

    python tools/model_converters/mmaction2_vit_to_simvtp.py \
        vit-base-p16_videomae-k400-pre_16x4x1_kinetics-400.pth \
        work_dirs/init_mmaction_vit.pth [--base CKPT] [--config CFG] \
        [--strict] [--verbose] [--keep-fc-norm]

Gives backbone.* (recogniser checkpoints have no pixel decoder).
--keep-fc-norm keeps the post-pool LayerNorm as backbone.fc_norm.* for a
recognition encoder (UnifiedViT final_norm=False, fc_norm=True,
out_type='avg_featmap'), e.g. configs/recognition/*.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))  # converter_cli

from converter_cli import make_parser, run_converter  # noqa: E402
from simvtp.checkpoint.common import load_source  # noqa: E402
from simvtp.checkpoint.mmaction_vit import \
    mmaction_vit_to_simvtp  # noqa: E402


def main(argv=None) -> int:
    parser = make_parser(__doc__.splitlines()[0], base=True)
    parser.add_argument(
        '--keep-fc-norm', action='store_true',
        help='keep fc_norm.* (post-pool LayerNorm) as backbone.fc_norm.* '
        'instead of dropping it')

    def convert(args):
        return mmaction_vit_to_simvtp(load_source(args.src), source=args.src,
                                      keep_fc_norm=args.keep_fc_norm)

    return run_converter(parser, convert, argv,
                         tool='mmaction2_vit_to_simvtp')


if __name__ == '__main__':
    sys.exit(main())
