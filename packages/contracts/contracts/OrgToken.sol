// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IOrganizations} from "./interfaces/IOrganizations.sol";

/// @title OrgToken — an organization's own ERC-20, minted by whoever is the organization's admin.
/// @notice Deployed by Organizations. Minting rights follow Organizations.transferAdmin because the
///         admin is looked up on every mint instead of being copied here.
contract OrgToken is ERC20 {
    /// @notice The Organizations contract that deployed this token.
    IOrganizations public immutable organizations;
    /// @notice The organization this token belongs to.
    uint256 public immutable orgId;

    error NotOrganizationAdmin(uint256 orgId, address caller);

    constructor(string memory name_, string memory symbol_, uint256 orgId_) ERC20(name_, symbol_) {
        organizations = IOrganizations(msg.sender);
        orgId = orgId_;
    }

    /// @notice Mint `amount` base units to `to`; only the organization's current admin.
    function mint(address to, uint256 amount) external {
        if (organizations.adminOf(orgId) != msg.sender) revert NotOrganizationAdmin(orgId, msg.sender);
        _mint(to, amount);
    }
}
