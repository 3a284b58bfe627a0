"""A simvtp pre-training checkpoint -> the authors' layout ({'model': ...}).

    python tools/model_converters/simvtp_to_reference.py \
        work_dirs/pretrain_vitb/epoch_200.pth checkpoint-simvtp.pth \
        [--qkv-bias split|fused] [--strict] [--verbose]

The output can be passed to the authors' fine-tuning script
(``--finetune checkpoint-simvtp.pth``).
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))  # converter_cli

from converter_cli import make_parser, run_converter  # noqa: E402
from simvtp.checkpoint.common import load_source  # noqa: E402
from simvtp.checkpoint.simvtp_reference import \
    simvtp_to_reference  # noqa: E402


def main(argv=None) -> int:
    parser = make_parser(__doc__.splitlines()[0], simvtp_output=False)
    parser.add_argument(
        '--qkv-bias', choices=('split', 'fused'), default='split',
        help="'split': attn.q_bias/attn.v_bias (the reference); 'fused': one "
        'attn.qkv.bias = cat(q, 0, v) (timm-style code)')

    def convert(args):
        return simvtp_to_reference(load_source(args.src),
                                   qkv_bias=args.qkv_bias, source=args.src)

    return run_converter(parser, convert, argv, simvtp_output=False,
                         tool='simvtp_to_reference')


if __name__ == '__main__':
    sys.exit(main())
