// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @title OwnerWallet — a minimal smart-contract account: one owner key acts and signs for it.
/// @notice Signatures are checked per ERC-1271 (what Sign-In with Ethereum uses for contract wallets):
///         a hash is signed for the wallet when the owner's key signed that hash.
contract OwnerWallet is IERC1271 {
    /// @notice The key that controls this wallet.
    address public immutable owner;

    error NotOwner(address caller);
    error CallFailed(bytes returnData);

    constructor(address owner_) {
        owner = owner_;
    }

    /// @notice Calls `target` with `data` and `value` as this wallet; only the owner.
    function execute(address target, uint256 value, bytes calldata data) external returns (bytes memory) {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        (bool ok, bytes memory ret) = target.call{value: value}(data);
        if (!ok) revert CallFailed(ret);
        return ret;
    }

    /// @inheritdoc IERC1271
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(hash, signature);
        if (err == ECDSA.RecoverError.NoError && signer == owner) return IERC1271.isValidSignature.selector;
        return 0xffffffff;
    }

    receive() external payable {}
}
