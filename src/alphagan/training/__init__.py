"""AlphaGAN training: config, data wiring, the GAN step and the loop (``alphagan train``)."""
