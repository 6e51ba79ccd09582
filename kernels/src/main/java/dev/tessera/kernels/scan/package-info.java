/**
 * The selective scan of Mamba (arXiv 2312.00752) and Mamba-2 (arXiv 2405.21060): the op {@link
 * dev.tessera.kernels.scan.SelectiveScan} with its options and result, the float64 reference {@link
 * dev.tessera.kernels.scan.SelectiveScanReference} (the oracle of the tests), and the package-private Vector API path.
 */
package dev.tessera.kernels.scan;
