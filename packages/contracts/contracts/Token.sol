// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title DIBS Token — the default payment token of a DIBS network (18 decimals).
/// @notice The owner (the network operator) mints; everyone else transfers.
contract Token is ERC20, Ownable {
    constructor(address initialOwner) ERC20("DIBS Token", "DIBS") Ownable(initialOwner) {}

    /// @notice Mint `amount` base units to `to`; only the owner.
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}
