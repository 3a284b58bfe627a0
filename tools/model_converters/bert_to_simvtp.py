"""Hugging Face BERT embeddings -> simvtp backbone.text_embeddings.*.

    python tools/model_converters/bert_to_simvtp.py \
        /models/bert-base-uncased work_dirs/init_videomae_bert.pth \
        --base work_dirs/init_videomae.pth [--max-text-len 512] \
        [--config CFG] [--strict] [--verbose]

SRC is a local folder (model.safetensors or pytorch_model.bin) or one of
those files. With --base the embeddings are added to an existing simvtp
checkpoint (the paper's VideoMAE + BERT initialisation).
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))  # converter_cli

from simvtp.checkpoint.bert import bert_to_simvtp  # noqa: E402
from converter_cli import make_parser, run_converter  # noqa: E402


def main(argv=None) -> int:
    parser = make_parser(__doc__.splitlines()[0], base=True)
    parser.add_argument('--max-text-len', type=int, default=None,
                        help="keep the first N position embeddings (the "
                        "backbone's max_text_len)")

    def convert(args):
        return bert_to_simvtp(args.src, max_text_len=args.max_text_len)

    return run_converter(parser, convert, argv, tool='bert_to_simvtp')


if __name__ == '__main__':
    sys.exit(main())
