"""A VideoMAE checkpoint (e.g. the K400 ViT-B pre-training) -> simvtp.

    python tools/model_converters/videomae_to_simvtp.py \
        videomae_vitb_k400_pretrain_1600e.pth work_dirs/init_videomae.pth \
        [--base CKPT] [--config CFG] [--strict] [--verbose]

Pre-training checkpoints give backbone.* and video_decoder.*; fine-tuned
(classification) ones give backbone.* only.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))  # converter_cli

from converter_cli import make_parser, run_converter  # noqa: E402
from simvtp.checkpoint.common import load_source  # noqa: E402
from simvtp.checkpoint.videomae import videomae_to_simvtp  # noqa


def main(argv=None) -> int:
    parser = make_parser(__doc__.splitlines()[0], base=True)

    def convert(args):
        ckpt = load_source(args.src, reference_globals=True)
        return videomae_to_simvtp(ckpt, source=args.src)

    return run_converter(parser, convert, argv, tool='videomae_to_simvtp')


if __name__ == '__main__':
    sys.exit(main())
