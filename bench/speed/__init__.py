"""
Speed benchmarks: separate programs, each with its own command, that time the model, the optimiser and the
data pipeline. They import model, amplify and data (what they time), never the rest of bench.

    train_step.py       python -m bench.speed        one training step per mixup method, ours vs Hugging Face's BERT
      variants.py         what it times: our model and Hugging Face's on the same weights, the batches, one
                          training step of each, the optimiser step alone
      timing.py           its interleaved rounds, per-step wall / CPU time and memory, medians and ratios
      mfu.py              its useful FLOPs and the GEMM peak that MFU is measured against
    checkpoint_load.py  python -m bench.load_speed   model/safetensors.py's load time and memory vs `safetensors`
    data_pipeline.py    python -m bench.data_speed   tokenize, cache and collate against their time budgets
    grid_throughput.py  python -m bench.speed.grid_throughput   runs per hour of a small grid, --jobs x --threads
                        ways (and older code) side by side; it runs bench.compare as a command, never imports it
    whole_run.py        python -m bench.speed.whole_run   a whole run.py run vs the same run as a loop around Hugging
                        Face's model, each a child process timed from start to exit
    allocator.py        python -m bench.speed.allocator   our step with glibc's usual malloc and with freed memory
                        kept (amplify/allocator.py), one fresh process each, stepping in lockstep
(`python -m bench.speed.checkpoint_load` and `python -m bench.speed.data_pipeline` are the same commands.)
"""
