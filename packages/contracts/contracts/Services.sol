// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IOrganizations} from "./interfaces/IOrganizations.sol";

/// @title Services — the catalog of services published on chain, with their price and access policy.
/// @notice Abstract: it is deployed as part of AccessGrants, so that issuing a grant reads the service
///         from its own storage instead of calling another contract. The same address therefore
///         answers both the Services and the AccessGrants interface.
abstract contract Services {
    /// @notice Policy: anyone may request access.
    uint8 public constant POLICY_PUBLIC = 0;
    /// @notice Policy: only accounts on the service's allowlist.
    uint8 public constant POLICY_ALLOWLIST = 1;
    /// @notice Policy: only members of the organization `policyRef`.
    uint8 public constant POLICY_ORG_MEMBERS = 2;
    /// @notice Policy: only holders of at least the service's token threshold (in base units; 0 means 1)
    ///         of the ERC-20 at `address(uint160(policyRef))`.
    uint8 public constant POLICY_TOKEN_HOLDERS = 3;
    /// @notice Policy: only members and member nodes of the organization `policyRef` (its network).
    uint8 public constant POLICY_ORG_NETWORK = 4;
    /// @notice Longest service type ("network", "tcp", "http", "vpn", …), in bytes.
    uint256 public constant MAX_SERVICE_TYPE_BYTES = 32;
    /// @notice Longest service name, in bytes.
    uint256 public constant MAX_NAME_BYTES = 128;
    /// @notice Highest price in base units of the payment token (the price is stored in 96 bits).
    uint256 public constant MAX_PRICE = type(uint96).max;
    /// @notice Longest grant duration in seconds (about 136 years; stored in 32 bits).
    uint64 public constant MAX_GRANT_DURATION = type(uint32).max;
    /// @notice Most accounts one setAllowlist call may change.
    uint256 public constant MAX_ALLOWLIST_BATCH = 256;

    /// @notice A service as callers see it.
    struct Service {
        address owner;
        address host;
        string serviceType;
        string name;
        uint256 price;
        address paymentToken;
        uint64 grantDuration;
        uint8 policy;
        uint256 policyRef;
        bool active;
        /// @dev Least balance of the policy token a holder needs (base units); 0 means 1.
        uint256 tokenThreshold;
    }

    /// @dev Storage layout: the first two slots hold everything AccessGrants.request reads, so a
    ///      request costs two storage reads for the service. grantCount numbers the service's grants.
    struct ServiceRecord {
        address owner;
        uint32 grantDuration;
        uint8 policy;
        bool active;
        uint48 grantCount;
        address paymentToken;
        uint96 price;
        address host;
        uint256 policyRef;
        string serviceType;
        string name;
        // Appended last so every earlier field keeps its slot; read only for token-holder policies.
        uint256 tokenThreshold;
    }

    /// @notice The Organizations contract that ORG_MEMBERS policies consult.
    IOrganizations public immutable organizations;

    uint256 private _serviceCount;
    mapping(uint256 serviceId => ServiceRecord) internal _services;
    mapping(uint256 serviceId => mapping(address account => bool)) internal _allowlist;

    event ServicePublished(
        uint256 indexed serviceId, address indexed owner, address indexed host, string serviceType
    );
    event ServiceUpdated(uint256 indexed serviceId);
    event ServiceRetired(uint256 indexed serviceId);
    event AllowlistChanged(uint256 indexed serviceId, address indexed account, bool allowed);
    event TokenThresholdChanged(uint256 indexed serviceId, uint256 threshold);

    error ServiceNotFound(uint256 serviceId);
    error NotServiceOwner(uint256 serviceId, address caller);
    error ServiceInactive(uint256 serviceId);
    error NotAllowed(uint256 serviceId, address account);
    error InvalidServiceType(uint256 length, uint256 maxLength);
    error NameTooLong(uint256 length, uint256 maxLength);
    error InvalidPolicy(uint8 policy);
    error InvalidPolicyRef(uint8 policy, uint256 policyRef);
    error PaymentTokenRequired(uint256 price);
    error PriceTooHigh(uint256 price, uint256 maxPrice);
    error InvalidGrantDuration(uint64 grantDuration, uint64 maxGrantDuration);
    error AllowlistBatchTooLarge(uint256 count, uint256 maxCount);

    constructor(IOrganizations organizations_) {
        organizations = organizations_;
    }

    /// @notice Publish a service owned by the caller; returns its id (counting from 1).
    function publish(
        string calldata serviceType,
        address host,
        uint256 price,
        address paymentToken,
        uint64 grantDuration,
        uint8 policy,
        uint256 policyRef,
        string calldata name
    ) external returns (uint256 serviceId) {
        return publish(serviceType, host, price, paymentToken, grantDuration, policy, policyRef, name, 0);
    }

    /// @notice Publish a service as above with a token threshold: a token-holders policy then admits
    ///         accounts holding at least `tokenThreshold` base units (0 means 1) of its token.
    function publish(
        string calldata serviceType,
        address host,
        uint256 price,
        address paymentToken,
        uint64 grantDuration,
        uint8 policy,
        uint256 policyRef,
        string calldata name,
        uint256 tokenThreshold
    ) public returns (uint256 serviceId) {
        uint256 typeLength = bytes(serviceType).length;
        if (typeLength == 0 || typeLength > MAX_SERVICE_TYPE_BYTES) {
            revert InvalidServiceType(typeLength, MAX_SERVICE_TYPE_BYTES);
        }
        if (bytes(name).length > MAX_NAME_BYTES) revert NameTooLong(bytes(name).length, MAX_NAME_BYTES);
        _checkTerms(price, paymentToken, grantDuration, policy, policyRef);

        serviceId = ++_serviceCount;
        ServiceRecord storage s = _services[serviceId];
        s.owner = msg.sender;
        s.grantDuration = uint32(grantDuration);
        s.policy = policy;
        s.active = true;
        s.paymentToken = paymentToken;
        s.price = uint96(price);
        if (host != address(0)) s.host = host;
        if (policyRef != 0) s.policyRef = policyRef;
        s.serviceType = serviceType;
        if (bytes(name).length != 0) s.name = name;
        emit ServicePublished(serviceId, msg.sender, host, serviceType);
        if (tokenThreshold != 0) {
            s.tokenThreshold = tokenThreshold;
            emit TokenThresholdChanged(serviceId, tokenThreshold);
        }
    }

    /// @notice Change a service's price, payment token, grant duration and policy; only its owner.
    ///         Grants already issued keep their expiry.
    function update(
        uint256 id,
        uint256 price,
        address paymentToken,
        uint64 grantDuration,
        uint8 policy,
        uint256 policyRef
    ) external {
        ServiceRecord storage s = _ownedActive(id);
        _checkTerms(price, paymentToken, grantDuration, policy, policyRef);
        s.grantDuration = uint32(grantDuration);
        s.policy = policy;
        s.paymentToken = paymentToken;
        s.price = uint96(price);
        s.policyRef = policyRef;
        emit ServiceUpdated(id);
    }

    /// @notice Set the least balance (base units; 0 means 1) of its policy token an account needs under a
    ///         token-holders policy; only the owner. Kept whatever the policy, so it can be set before
    ///         switching to token holders. Holders below it lose their grants' validity at once.
    function setTokenThreshold(uint256 id, uint256 threshold) external {
        _ownedActive(id).tokenThreshold = threshold;
        emit TokenThresholdChanged(id, threshold);
    }

    /// @notice Move a service to another host node; only its owner.
    function setHost(uint256 id, address host) external {
        _ownedActive(id).host = host;
        emit ServiceUpdated(id);
    }

    /// @notice Retire a service for good: no new grants, and its existing grants stop being valid.
    function retire(uint256 id) external {
        _ownedActive(id).active = false;
        emit ServiceRetired(id);
    }

    /// @notice Add (`allowed` true) or remove accounts on a service's allowlist; only its owner.
    function setAllowlist(uint256 id, address[] calldata accounts, bool allowed) external {
        _ownedActive(id);
        if (accounts.length > MAX_ALLOWLIST_BATCH) {
            revert AllowlistBatchTooLarge(accounts.length, MAX_ALLOWLIST_BATCH);
        }
        mapping(address => bool) storage list = _allowlist[id];
        for (uint256 i; i < accounts.length; ++i) {
            list[accounts[i]] = allowed;
            emit AllowlistChanged(id, accounts[i], allowed);
        }
    }

    /// @notice Whether `account` is on the allowlist of service `id`.
    function isAllowed(uint256 id, address account) external view returns (bool) {
        return _allowlist[id][account];
    }

    /// @notice Whether `account` satisfies the access policy of service `id` right now (ignores
    ///         price and whether the service is active).
    function meetsPolicy(uint256 id, address account) external view returns (bool) {
        ServiceRecord storage s = _services[id];
        if (s.owner == address(0)) revert ServiceNotFound(id);
        return _meetsPolicy(id, s.policy, account);
    }

    /// @notice A service's full record; reverts for unknown ids.
    function getService(uint256 id) external view returns (Service memory) {
        ServiceRecord storage s = _services[id];
        if (s.owner == address(0)) revert ServiceNotFound(id);
        return Service({
            owner: s.owner,
            host: s.host,
            serviceType: s.serviceType,
            name: s.name,
            price: s.price,
            paymentToken: s.paymentToken,
            grantDuration: s.grantDuration,
            policy: s.policy,
            policyRef: s.policyRef,
            active: s.active,
            tokenThreshold: s.tokenThreshold
        });
    }

    /// @notice How many services were published; ids run from 1 to this number.
    function serviceCount() external view returns (uint256) {
        return _serviceCount;
    }

    function _meetsPolicy(uint256 id, uint8 policy, address account) internal view returns (bool) {
        if (policy == POLICY_PUBLIC) return true;
        if (policy == POLICY_ALLOWLIST) return _allowlist[id][account];
        uint256 ref = _services[id].policyRef;
        if (policy == POLICY_ORG_MEMBERS) return organizations.isMember(ref, account);
        if (policy == POLICY_ORG_NETWORK) return organizations.isMember(ref, account) || organizations.isNode(ref, account);
        uint256 threshold = _services[id].tokenThreshold;
        return IERC20(address(uint160(ref))).balanceOf(account) >= (threshold == 0 ? 1 : threshold);
    }

    function _ownedActive(uint256 id) private view returns (ServiceRecord storage s) {
        s = _services[id];
        address owner = s.owner;
        if (owner == address(0)) revert ServiceNotFound(id);
        if (owner != msg.sender) revert NotServiceOwner(id, msg.sender);
        if (!s.active) revert ServiceInactive(id);
    }

    function _checkTerms(uint256 price, address paymentToken, uint64 grantDuration, uint8 policy, uint256 policyRef)
        private
        view
    {
        if (price > MAX_PRICE) revert PriceTooHigh(price, MAX_PRICE);
        if (price != 0 && paymentToken.code.length == 0) revert PaymentTokenRequired(price);
        if (grantDuration == 0 || grantDuration > MAX_GRANT_DURATION) {
            revert InvalidGrantDuration(grantDuration, MAX_GRANT_DURATION);
        }
        if (policy > POLICY_ORG_NETWORK) revert InvalidPolicy(policy);
        if (policy == POLICY_ORG_MEMBERS || policy == POLICY_ORG_NETWORK) {
            if (policyRef == 0 || policyRef > organizations.organizationCount()) {
                revert InvalidPolicyRef(policy, policyRef);
            }
        } else if (policy == POLICY_TOKEN_HOLDERS) {
            if (policyRef > type(uint160).max || address(uint160(policyRef)).code.length == 0) {
                revert InvalidPolicyRef(policy, policyRef);
            }
        }
    }
}
